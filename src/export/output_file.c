/* Output renamed into place on success: see output_file.h. */
#include "export/output_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static mode_t current_umask(void)
{
    mode_t m = umask(022);
    umask(m);
    return m;
}

/* "DIR/.BASE.tmp.XXXXXX" beside path: the same file system, so that the
 * final rename is atomic. */
static char *temp_name_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t len = dir_len + strlen(base) + 16;
    char *name = malloc(len);
    if (name)
        snprintf(name, len, "%.*s.%s.tmp.XXXXXX", (int)dir_len, path, base);
    return name;
}

static void release(ht_output_file *o)
{
    free(o->path);
    free(o->temp_path);
    memset(o, 0, sizeof *o);
}

int ht_output_open(ht_output_file *o, const char *path, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->fp = stdout;
        o->path = strdup("standard output");
        if (!o->path) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    struct stat st;
    if (path[0] == '\0' || path[strlen(path) - 1] == '/' ||
        (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        snprintf(err, errlen, "%s: is a directory, not a file name", path);
        return -1;
    }
    o->path = strdup(path);
    o->temp_path = temp_name_for(path);
    if (!o->path || !o->temp_path) {
        release(o);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int fd = mkstemp(o->temp_path);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a file in its directory: %s", path,
                 strerror(errno));
        release(o);
        return -1;
    }
    /* mkstemp makes the file private; give it the mode any new file gets. */
    if (fchmod(fd, 0666 & ~current_umask()) < 0 || !(o->fp = fdopen(fd, "w"))) {
        snprintf(err, errlen, "%s: %s", o->temp_path, strerror(errno));
        close(fd);
        unlink(o->temp_path);
        release(o);
        return -1;
    }
    return 0;
}

static int is_empty_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

int ht_output_open_dir(ht_output_file *o, const char *path, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    struct stat st;
    if (strcmp(path, "-") == 0 || path[0] == '\0') {
        snprintf(err, errlen, "this format writes a directory: name it with -o DIR");
        return -1;
    }
    if (lstat(path, &st) == 0 && !(S_ISDIR(st.st_mode) && is_empty_dir(path))) {
        snprintf(err, errlen, "%s: already exists (a new or empty directory is needed)", path);
        return -1;
    }
    o->is_dir = 1;
    o->path = strdup(path);
    /* A trailing slash would put the temporary directory inside path. */
    size_t len = o->path ? strlen(o->path) : 0;
    while (len > 1 && o->path[len - 1] == '/')
        o->path[--len] = '\0';
    o->temp_path = o->path ? temp_name_for(o->path) : NULL;
    if (!o->temp_path) {
        release(o);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!mkdtemp(o->temp_path) || chmod(o->temp_path, 0777 & ~current_umask()) < 0) {
        snprintf(err, errlen, "%s: cannot create a directory beside it: %s", path,
                 strerror(errno));
        rmdir(o->temp_path);
        release(o);
        return -1;
    }
    return 0;
}

/* Remove a flat directory of files (the exports write no subdirectories). */
static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(path);
}

void ht_output_abort(ht_output_file *o)
{
    if (o->fp && o->fp != stdout)
        fclose(o->fp);
    if (o->temp_path) {
        if (o->is_dir)
            remove_dir(o->temp_path);
        else
            unlink(o->temp_path);
    }
    release(o);
}

void ht_output_error(const ht_output_file *o, int saved_errno, char *err, size_t errlen)
{
    const char *where = o->temp_path && !o->fp ? o->temp_path : o->path;
    snprintf(err, errlen, "%s: cannot write: %s", where ? where : "output",
             saved_errno ? strerror(saved_errno) : "write error");
}

int ht_output_commit(ht_output_file *o, char *err, size_t errlen)
{
    if (o->fp == stdout) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
            ht_output_error(o, errno, err, errlen);
            release(o);
            return -1;
        }
        release(o);
        return 0;
    }
    if (o->fp) {
        int bad = fflush(o->fp) != 0 || ferror(o->fp) || fsync(fileno(o->fp)) != 0;
        int saved = errno;
        if (fclose(o->fp) != 0 && !bad) {
            bad = 1;
            saved = errno;
        }
        o->fp = NULL;
        if (bad) {
            snprintf(err, errlen, "%s: cannot write: %s", o->path, strerror(saved));
            ht_output_abort(o);
            return -1;
        }
    }
    if (rename(o->temp_path, o->path) < 0) {
        snprintf(err, errlen, "%s: cannot rename %s into place: %s", o->path, o->temp_path,
                 strerror(errno));
        ht_output_abort(o);
        return -1;
    }
    release(o);
    return 0;
}

int ht_output_finish(ht_output_file *o, char *err, size_t errlen)
{
    int saved = errno;
    if (o->fp && ferror(o->fp)) {
        ht_output_error(o, saved, err, errlen);
        return -1;
    }
    return ht_output_commit(o, err, errlen);
}
