/* The bundled example: counts word frequencies of its input with a hash table
 * that grows by realloc, on two threads, and forgets to free one buffer so
 * that the trace shows a leak. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *word;
    unsigned count;
} entry;

typedef struct table {
    entry *slots;
    size_t cap, used;
} table;

static unsigned long hash(const char *s)
{
    unsigned long h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static void add(table *t, const char *w)
{
    if (2 * (t->used + 1) > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        entry *old = t->slots;
        size_t old_cap = t->cap;
        t->slots = calloc(cap, sizeof *t->slots);
        t->cap = cap;
        t->used = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].word) {
                entry *e = &t->slots[hash(old[i].word) & (cap - 1)];
                while (e->word)
                    e = &t->slots[(size_t)(e - t->slots + 1) & (cap - 1)];
                *e = old[i];
                t->used++;
            }
        free(old);
    }
    size_t i = hash(w) & (t->cap - 1);
    while (t->slots[i].word && strcmp(t->slots[i].word, w) != 0)
        i = (i + 1) & (t->cap - 1);
    if (!t->slots[i].word) {
        t->slots[i].word = strdup(w);
        t->used++;
    }
    t->slots[i].count++;
}

static void *count_words(void *arg)
{
    const char *text = arg;
    table t = {0};
    char *word = NULL;
    size_t len = 0, cap = 0;
    for (const char *p = text;; p++) {
        if (isalpha((unsigned char)*p)) {
            if (len + 2 > cap) {
                cap = cap ? cap * 2 : 4;
                word = realloc(word, cap);
            }
            word[len++] = (char)tolower((unsigned char)*p);
        } else if (len) {
            word[len] = '\0';
            add(&t, word);
            len = 0;
        }
        if (!*p)
            break;
    }
    unsigned long total = 0;
    for (size_t i = 0; i < t.cap; i++)
        if (t.slots[i].word) {
            total += t.slots[i].count;
            free(t.slots[i].word);
        }
    free(t.slots);
    /* `word` is not freed: the deliberate leak. */
    return (void *)total;
}

int main(void)
{
    static const char verse[] =
        "Heap events tell who allocates what and when, and which path of the allocator "
        "served it: the lookaside list, the low fragmentation heap, the main path or the "
        "slow path. ";
    size_t n = 400;
    char *text = malloc(n * sizeof verse + 1);
    text[0] = '\0';
    for (size_t i = 0; i < n; i++)
        strcat(text, verse);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, count_words, text);
    unsigned long words = 0;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(th[i], &r);
        words += (unsigned long)r;
    }
    printf("wordfreq: counted %lu words on 2 threads\n", words);
    free(text);
    return 0;
}
