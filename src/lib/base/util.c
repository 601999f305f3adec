/* util.c: the few shared helpers too large to be inline. */
#include <dirent.h>

#include "util.h"

int dir_list(const char *path, bool dirs_only, char ***ret)
{
	_cleanup_strv_free_ char **v = calloc(1, sizeof(char *));
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;
	int r = 0;

	if (!d && errno != ENOENT) {
		r = negative_errno();
		goto out;
	}
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	while (d && (de = readdir(d))) {
		char **nv;

		if (de->d_name[0] == '.' || (dirs_only && de->d_type != DT_DIR))
			continue;
		nv = realloc(v, (n + 2) * sizeof(char *));
		if (!nv) {
			r = -ENOMEM;
			goto out;
		}
		v = nv;
		v[n + 1] = NULL;
		v[n] = strdup(de->d_name);
		if (!v[n]) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	*ret = TAKE_PTR(v);
out:
	if (d)
		closedir(d);
	return r;
}
