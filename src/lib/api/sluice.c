/* sluice.c: include/sluice.h over the library's modules. */
#include <stdlib.h>

#include "cage.h"
#include "gc.h"
#include "log.h"
#include "plan.h"
#include "policy.h"
#include "prepare.h"
#include "sluice.h"
#include "text.h"

extern char **environ;

struct sluice_policy {
	struct policy pol;
};

struct sluice_plan {
	struct plan plan;
};

_Static_assert((int)SLUICE_LOG_ERROR == (int)LOG_ERR && (int)SLUICE_LOG_INFO == (int)LOG_INFO &&
		   (int)SLUICE_LOG_DEBUG == (int)LOG_DEBUG,
	       "the public log levels are the logger's");

static sluice_log_fn user_log;

static bool to_user(enum log_level level, const char *line, size_t len)
{
	return user_log && user_log((int)level, line, len);
}

void sluice_set_log(sluice_log_fn fn, int max_level)
{
	user_log = fn;
	log_set_sink(to_user);
	log_max_level = max_level;
}

const char *sluice_error(int r)
{
	return err_message(r);
}

int sluice_policy_from_profile(const char *path_or_name, struct sluice_policy **ret)
{
	struct sluice_policy *p = calloc(1, sizeof(*p));
	char path[4096];
	int r;

	if (!p)
		return -ENOMEM;
	policy_init(&p->pol);
	err_clear();
	r = profile_find(path_or_name, path, sizeof(path));
	if (r == 0)
		r = profile_load(path, &p->pol);
	if (r == 0)
		r = policy_finish(&p->pol);
	if (r < 0) {
		sluice_policy_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void sluice_policy_free(struct sluice_policy *p)
{
	if (!p)
		return;
	policy_free(&p->pol);
	free(p);
}

int sluice_plan_new(struct sluice_policy *p, char *const *argv, struct sluice_plan **ret)
{
	struct sluice_plan *pl = calloc(1, sizeof(*pl));
	int r = pl ? 0 : -ENOMEM;

	err_clear();
	if (r == 0)
		r = plan_prepare(&p->pol, (char **)argv, argv != NULL, environ, &pl->plan);
	sluice_policy_free(p);
	if (r < 0) {
		free(pl);
		return r;
	}
	*ret = pl;
	return 0;
}

int sluice_plan_text(const struct sluice_plan *p, bool json, char **ret)
{
	struct text t = TEXT_INIT;

	if (json)
		plan_render_json(&p->plan, &t);
	else
		plan_render(&p->plan, &t);
	if (text_error(&t) < 0 || !t.buf) {
		text_free(&t);
		return -ENOMEM;
	}
	*ret = t.buf;
	return 0;
}

void sluice_plan_free(struct sluice_plan *p)
{
	if (!p)
		return;
	plan_free(&p->plan);
	free(p);
}

int sluice_run(const struct sluice_plan *p, int *status)
{
	err_clear();
	return cage_run(&p->plan, status);
}

int sluice_gc(bool unload, void (*said)(const char *line, void *data), void *data)
{
	err_clear();
	return gc_run(unload, NULL, said, data);
}
