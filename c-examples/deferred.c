/* deferred: responses completed later, by a pool of C threads, out of order.
 *   GET /job?id=N[&delay=MS]   the handler defers; a pool thread answers
 *                              "job N" later (after MS milliseconds).
 * The pool takes jobs oldest first, so none waits behind newer ones; its
 * threads finish them in whatever order their delays make, and fastserve
 * still sends the answers in request order. A job whose client left (or
 * whose request timed out) is dropped at once: fastserve_response_on_end
 * says so, and the pool thread stops waiting for it.
 * Usage: deferred [host] [port] [threads]   (default 127.0.0.1 8081 4) */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastserve.h"

/* Held by the pool thread and by the engine's end callback: the last of
 * the two to let go frees it, since either may come second. */
struct job {
    fastserve_response *res;
    long id;
    long delay_ms;
    struct job *next;
    atomic_int refs;
    atomic_int ended; /* a fastserve_end_reason + 1 when nobody waits */
};

static void release(struct job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1)
        free(j);
}

static void on_end(void *userdata, fastserve_end_reason reason)
{
    struct job *j = userdata;
    if (reason != FASTSERVE_END_SENT)
        atomic_store(&j->ended, (int)reason + 1);
    release(j);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static struct job *head, *tail; /* oldest first */
static int quitting;
static fastserve_server *server;

static void on_signal(int sig)
{
    (void)sig;
    fastserve_server_stop(server);
}

static int job(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    fastserve_str q = fastserve_request_query(req);
    long id = -1, delay = 0;
    char query[128] = {0};
    if (q.ptr != NULL)
        memcpy(query, q.ptr, q.len < sizeof(query) - 1 ? q.len : sizeof(query) - 1);
    char *at = strstr(query, "id=");
    if (at != NULL)
        id = strtol(at + 3, NULL, 10);
    at = strstr(query, "delay=");
    if (at != NULL)
        delay = strtol(at + 6, NULL, 10);
    struct job *j = malloc(sizeof(*j));
    if (j == NULL)
        return 1; /* answered with 500 */
    j->id = id;
    j->delay_ms = delay;
    j->next = NULL;
    atomic_init(&j->refs, 2);
    atomic_init(&j->ended, 0);
    if (fastserve_response_on_end(res, on_end, j) != FASTSERVE_RESULT_OK) {
        free(j);
        return 1;
    }
    j->res = fastserve_response_defer(res);
    if (j->res == NULL) {
        release(j); /* answered 500 now: on_end has the other reference */
        return 1;
    }
    pthread_mutex_lock(&lock);
    if (tail != NULL)
        tail->next = j;
    else
        head = j;
    tail = j;
    pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
    return 0;
}

static void *completer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (head == NULL && !quitting)
            pthread_cond_wait(&ready, &lock);
        if (head == NULL && quitting) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        struct job *j = head; /* the oldest */
        head = j->next;
        if (head == NULL)
            tail = NULL;
        pthread_mutex_unlock(&lock);
        /* the work: a wait, in steps, so that a job nobody waits for ends early */
        for (long left = j->delay_ms; left > 0 && atomic_load(&j->ended) == 0; left -= 10) {
            struct timespec d = {0, (left < 10 ? left : 10) * 1000 * 1000};
            nanosleep(&d, NULL);
        }
        int ended = atomic_load(&j->ended);
        if (ended != 0) {
            printf("job %ld dropped: %s\n", j->id, ended - 1 == FASTSERVE_END_GONE ? "the client left" : "timed out");
            fflush(stdout);
        }
        char body[64];
        int n = snprintf(body, sizeof(body), "job %ld\n", j->id);
        fastserve_response_header(j->res, "Content-Type", 12, "text/plain", 10);
        fastserve_response_body(j->res, body, (size_t)n);
        fastserve_response_send(j->res); /* consumes the handle; a no-op once ended */
        release(j);
    }
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8081;
    int nthreads = argc > 3 ? atoi(argv[3]) : 4;
    if (nthreads < 1 || nthreads > 64)
        nthreads = 4;

    server = fastserve_server_new(NULL);
    static const char text[] = "Hello, World!";
    fastserve_server_route_static(server, "GET", 3, "/plaintext", 10, 0, 200, "text/plain", 10,
                                  text, sizeof(text) - 1);
    fastserve_server_route(server, "GET", 3, "/job", 4, 0, job, NULL);
    fastserve_result r = fastserve_server_listen(server, host, strlen(host), (uint16_t)port);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "listen: %s\n", fastserve_result_str(r));
        fastserve_server_free(server);
        return 1;
    }
    pthread_t threads[64];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&threads[i], NULL, completer, NULL);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* start the workers before saying so: a client that reads the line below
     * finds the server serving */
    r = fastserve_server_start(server);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "start: %s\n", fastserve_result_str(r));
        fastserve_server_free(server);
        return 1;
    }
    printf("deferred: listening on http://%s:%u/ with %d completer threads\n", host, fastserve_server_port(server),
           nthreads);
    printf("try:      curl 'http://%s:%u/job?id=7'\n", host, fastserve_server_port(server));
    fflush(stdout);

    r = fastserve_server_wait(server);
    pthread_mutex_lock(&lock);
    quitting = 1;
    pthread_cond_broadcast(&ready);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    fastserve_server_free(server);
    printf("deferred: stopped\n");
    return r == FASTSERVE_RESULT_OK ? 0 : 1;
}
