#!/bin/sh
# demo.sh: sluice's main job on a real command, in a private test world (network namespaces
# with no route off this machine; tests/lib/world.sh): curl in a cage whose one way out is a
# real tinyproxy gets a page from the world's "internet", and a direct connection from the
# same kind of cage fails at once with EPERM. Run as root: `sudo make deps demo`.
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
. tests/lib/world.sh
trap 'world_down' EXIT
trap 'exit 130' INT TERM HUP
[ -x build/tests/probe ] || make -s build/tests/probe || exit 1
world_up

echo "== the plan"
in_world "$SLUICE" check --user nobody --proxy "$PROXY_URL" -- curl "http://$NET_IP/" || exit 1

echo
echo "== curl through the proxy, in a cage"
echo "\$ sluice run --user nobody --proxy $PROXY_URL -- curl -sS http://$NET_IP/"
in_world "$SLUICE" run --user nobody --proxy "$PROXY_URL" -- curl -sS "http://$NET_IP/" || exit 1

echo
echo "== the same cage, straight to the web server"
echo "\$ sluice run --user nobody --proxy $PROXY_URL -- curl --noproxy '*' http://$NET_IP/"
in_world "$SLUICE" run --user nobody --proxy "$PROXY_URL" -- \
	curl -sS --noproxy '*' --max-time 5 "http://$NET_IP/"
echo "(exit status $?: refused by the kernel)"
echo "\$ sluice run ... -- probe connect tcp $NET_IP 80"
in_world "$SLUICE" run --user nobody --proxy "$PROXY_URL" -- "$PROBE" connect tcp $NET_IP 80
exit 0
