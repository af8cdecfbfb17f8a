/*
 * wordfreq: count the words of a text file with a few threads, print the
 * most frequent ones. It is the program the demo records: small, but its heap
 * does what real programs' heaps do.
 *
 *   - each thread counts its share of the lines into its own hash table
 *     (a node and a copy of the word per new word);
 *   - the tables grow by realloc as they fill, and so does the line buffer;
 *   - the main thread merges the tables and frees the ones the workers made
 *     (blocks freed by a thread other than the one that allocated them);
 *   - one small block is leaked on purpose: the "last word seen" copy each
 *     worker keeps is never freed, so the demo has a leak to show.
 *
 * usage: wordfreq FILE [THREADS] [PASSES]
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct word {
    char *text;
    unsigned long count;
    struct word *next;
} word;

typedef struct table {
    word **bucket;
    size_t nbuckets, nwords;
} table;

typedef struct job {
    char **lines;
    size_t first, step, nlines;
    unsigned passes;
    table counts;
    char *last_word; /* leaked on purpose: see above */
} job;

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        perror("wordfreq");
        exit(1);
    }
    return p;
}

static unsigned long hash(const char *s)
{
    unsigned long h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

/* Double the bucket array once the table holds as many words as buckets. */
static void grow(table *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 16;
    word **b = xrealloc(NULL, n * sizeof *b);
    memset(b, 0, n * sizeof *b);
    for (size_t i = 0; i < t->nbuckets; i++)
        for (word *w = t->bucket[i], *next; w; w = next) {
            next = w->next;
            w->next = b[hash(w->text) % n];
            b[hash(w->text) % n] = w;
        }
    free(t->bucket);
    t->bucket = b;
    t->nbuckets = n;
}

static void add(table *t, const char *text, unsigned long count)
{
    if (t->nwords >= t->nbuckets)
        grow(t);
    word **head = &t->bucket[hash(text) % t->nbuckets];
    for (word *w = *head; w; w = w->next)
        if (strcmp(w->text, text) == 0) {
            w->count += count;
            return;
        }
    word *w = xrealloc(NULL, sizeof *w);
    w->text = strdup(text);
    if (!w->text)
        exit(1);
    w->count = count;
    w->next = *head;
    *head = w;
    t->nwords++;
}

static void *count_words(void *arg)
{
    job *j = arg;
    char buf[128];
    for (unsigned pass = 0; pass < j->passes; pass++)
        for (size_t i = j->first; i < j->nlines; i += j->step)
            for (const char *p = j->lines[i]; *p;) {
                size_t n = 0;
                while (*p && !isalpha((unsigned char)*p))
                    p++;
                while (*p && (isalpha((unsigned char)*p) || *p == '\'') && n < sizeof buf - 1)
                    buf[n++] = (char)tolower((unsigned char)*p++);
                buf[n] = '\0';
                if (n) {
                    add(&j->counts, buf, 1);
                    free(j->last_word);
                    j->last_word = strdup(buf);
                }
            }
    return NULL;
}

/* Read FILE into an array of lines; both grow by realloc. */
static char **read_lines(const char *path, size_t *count)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    char **lines = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t len = 0;
    while (getline(&line, &len, f) > 0) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            lines = xrealloc(lines, cap * sizeof *lines);
        }
        lines[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    *count = n;
    return lines;
}

static int by_count(const void *a, const void *b)
{
    const word *x = *(const word *const *)a, *y = *(const word *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->text, y->text);
}

static void free_table(table *t)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (word *w = t->bucket[i], *next; w; w = next) {
            next = w->next;
            free(w->text);
            free(w);
        }
    free(t->bucket);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: wordfreq FILE [THREADS] [PASSES]\n");
        return 2;
    }
    size_t nthreads = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
    unsigned passes = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 20;
    if (nthreads < 1 || nthreads > 64)
        nthreads = 4;
    size_t nlines;
    char **lines = read_lines(argv[1], &nlines);

    job *jobs = calloc(nthreads, sizeof *jobs);
    pthread_t *tids = calloc(nthreads, sizeof *tids);
    if (!jobs || !tids)
        return 1;
    for (size_t i = 0; i < nthreads; i++) {
        jobs[i] = (job){lines, i, nthreads, nlines, passes, {0}, NULL};
        if (pthread_create(&tids[i], NULL, count_words, &jobs[i]) != 0)
            return 1;
    }
    table all = {0};
    for (size_t i = 0; i < nthreads; i++) {
        pthread_join(tids[i], NULL);
        for (size_t b = 0; b < jobs[i].counts.nbuckets; b++)
            for (word *w = jobs[i].counts.bucket[b]; w; w = w->next)
                add(&all, w->text, w->count);
        free_table(&jobs[i].counts); /* made by the worker, freed here */
    }

    word **sorted = xrealloc(NULL, all.nwords * sizeof *sorted);
    size_t n = 0;
    for (size_t b = 0; b < all.nbuckets; b++)
        for (word *w = all.bucket[b]; w; w = w->next)
            sorted[n++] = w;
    qsort(sorted, n, sizeof *sorted, by_count);
    printf("%zu distinct words in %zu lines, %u passes, %zu threads; most frequent:\n", n, nlines,
           passes, nthreads);
    for (size_t i = 0; i < n && i < 10; i++)
        printf("  %-12s %lu\n", sorted[i]->text, sorted[i]->count);

    free(sorted);
    free_table(&all);
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    free(jobs); /* the jobs' last_word copies are the deliberate leak */
    free(tids);
    return 0;
}
