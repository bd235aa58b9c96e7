/*
 * formats/lock.c: a second process is refused while the lock is held and
 * succeeds after vm_unlock or after the holder dies; VMware's .lck folders
 * (next to the .vmx or a disk) are reported; the .vmx is never written.
 * Oracle: the kernel's flock() semantics across fork()ed processes.
 */
#include "formats/lock.h"
#include "tests/unit/test.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ASSERT_HAS(msg, part)                                                       \
    do {                                                                            \
        if (!strstr((msg), (part)))                                                 \
            FAIL("\"%s\" does not contain \"%s\"", (msg), (part));                  \
    } while (0)

static const char vmx_text[] = "displayName = \"L\"\nide0:0.present = \"TRUE\"\n"
                               "ide0:0.fileName = \"d.vmdk\"\n";

static void make_vm(char *vmx, size_t n)
{
    snprintf(vmx, n, "%s/l.vmx", test_tmpdir());
    FILE *f = fopen(vmx, "w");
    ASSERT(f);
    fputs(vmx_text, f);
    fclose(f);
}

/* In a child process: try to lock; exit status = the error code (0 = locked). */
static int try_lock_in_child(const char *vmx)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct vm_lock *l;
        struct error e = { 0 };
        int rc = vm_lock(vmx, NULL, &l, &e);
        if (rc == 0)
            vm_unlock(l);
        else if (e.code == EX_TEMPFAIL && !strstr(e.msg, "is in use by another vmplay (pid unknown)"))
            _exit(1);
        _exit(rc == 0 ? 0 : e.code);
    }
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT(WIFEXITED(st));
    return WEXITSTATUS(st);
}

TEST(second_process_is_refused_until_unlock)
{
    char vmx[1024];
    make_vm(vmx, sizeof vmx);
    struct vm_lock *l;
    struct error e = { 0 };
    ASSERT_EQ(vm_lock(vmx, NULL, &l, &e), 0);
    ASSERT_EQ(try_lock_in_child(vmx), EX_TEMPFAIL);
    vm_unlock(l);
    ASSERT_EQ(try_lock_in_child(vmx), 0);
    ASSERT_EQ(vm_lock(vmx, NULL, &l, &e), 0); /* and again in this process */
    vm_unlock(l);
}

TEST(lock_in_same_process_twice_is_refused_with_message)
{
    char vmx[1024];
    make_vm(vmx, sizeof vmx);
    struct vm_lock *a, *b;
    struct error e = { 0 };
    ASSERT_EQ(vm_lock(vmx, NULL, &a, &e), 0);
    ASSERT_EQ(vm_lock(vmx, NULL, &b, &e), -1);
    ASSERT_EQ(e.code, EX_TEMPFAIL);
    ASSERT_HAS(e.msg, vmx);
    ASSERT_HAS(e.msg, "is in use by another vmplay (pid unknown)");
    vm_unlock(a);
}

TEST(lock_dies_with_its_holder)
{
    char vmx[1024];
    make_vm(vmx, sizeof vmx);
    int ready[2];
    ASSERT(pipe(ready) == 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct vm_lock *l;
        struct error e;
        char c = vm_lock(vmx, NULL, &l, &e) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        alarm(30); /* never outlive a failed parent */
        pause();
        _exit(0);
    }
    char c = 0;
    ssize_t got = read(ready[0], &c, 1);
    int second = try_lock_in_child(vmx);
    kill(pid, SIGKILL); /* before any assertion, so a failure cannot leave it behind */
    waitpid(pid, NULL, 0);
    ASSERT_EQ(got, 1);
    ASSERT_EQ(c, 'y');
    ASSERT_EQ(second, EX_TEMPFAIL);
    ASSERT_EQ(try_lock_in_child(vmx), 0);
    close(ready[0]);
    close(ready[1]);
}

TEST(vmware_lock_next_to_the_vmx_is_reported)
{
    char vmx[1024], lck[1100];
    make_vm(vmx, sizeof vmx);
    snprintf(lck, sizeof lck, "%s.lck", vmx);
    ASSERT(mkdir(lck, 0755) == 0);
    struct vm_lock *l;
    struct error e = { 0 };
    ASSERT_EQ(vm_lock(vmx, NULL, &l, &e), -1);
    ASSERT_EQ(e.code, EX_TEMPFAIL);
    ASSERT_HAS(e.msg, "VMware appears to be running this VM");
    ASSERT_HAS(e.msg, lck);
    ASSERT_HAS(e.msg, "stale");
    ASSERT(!strchr(e.msg, '\n'));
    ASSERT(rmdir(lck) == 0);
    ASSERT_EQ(vm_lock(vmx, NULL, &l, &e), 0);
    vm_unlock(l);
}

TEST(vmware_lock_next_to_a_disk_is_reported)
{
    char vmx[1024], lck[1100];
    make_vm(vmx, sizeof vmx);
    struct vm_config *c;
    struct error e = { 0 };
    ASSERT_EQ(config_load(vmx, &c, &e), 0);
    snprintf(lck, sizeof lck, "%s.lck", c->disks[0].path);
    ASSERT(mkdir(lck, 0755) == 0);
    struct vm_lock *l;
    ASSERT_EQ(vm_lock(vmx, c, &l, &e), -1);
    ASSERT_EQ(e.code, EX_TEMPFAIL);
    ASSERT_HAS(e.msg, "disk lock");
    ASSERT_HAS(e.msg, lck);
    ASSERT_EQ(vm_lock(vmx, NULL, &l, &e), 0); /* without the config only the .vmx is looked at */
    vm_unlock(l);
    config_free(c);
}

/* A disk file two of this VM's disks open for writing (an extent both descriptors name) is
 * refused as a configuration fault (65), not as "in use by another vmplay"; another process
 * holding it is still EX_TEMPFAIL, and two readers share it. */
TEST(image_opened_twice_by_this_process_is_dataerr)
{
    char vmx[1024];
    make_vm(vmx, sizeof vmx);
    int a = open(vmx, O_RDWR), b = open(vmx, O_RDWR), c = open(vmx, O_RDONLY);
    ASSERT(a >= 0 && b >= 0 && c >= 0);
    struct error e = { 0 };
    ASSERT_EQ(image_lock(c, vmx, false, &e), 0);
    close(c);
    ASSERT_EQ(image_lock(a, vmx, true, &e), 0);
    ASSERT_EQ(image_lock(b, vmx, true, &e), -1);
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "opened twice by this VM");
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(a); /* the child's own descriptor of the file, while the parent holds the lock */
        int f = open(vmx, O_RDWR);
        struct error ce = { 0 };
        _exit(image_lock(f, vmx, true, &ce) == -1 && ce.code == EX_TEMPFAIL &&
              strstr(ce.msg, "in use by another vmplay") ? 0 : 1);
    }
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(a);
    close(b);
}

TEST(missing_vmx_is_noinput)
{
    char vmx[1024];
    snprintf(vmx, sizeof vmx, "%s/none.vmx", test_tmpdir());
    struct vm_lock *l;
    struct error e = { 0 };
    ASSERT_EQ(vm_lock(vmx, NULL, &l, &e), -1);
    ASSERT_EQ(e.code, EX_NOINPUT);
    ASSERT_HAS(e.msg, vmx);
}

TEST(locking_writes_nothing)
{
    char vmx[1024];
    make_vm(vmx, sizeof vmx);
    struct stat before, after;
    ASSERT(stat(vmx, &before) == 0);
    struct vm_lock *l;
    struct error e = { 0 };
    ASSERT_EQ(vm_lock(vmx, NULL, &l, &e), 0);
    vm_unlock(l);
    ASSERT(stat(vmx, &after) == 0);
    ASSERT_EQ(after.st_size, sizeof vmx_text - 1);
    ASSERT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    int n = 0;
    DIR *d = opendir(test_tmpdir());
    for (struct dirent *de; (de = readdir(d));)
        n += de->d_name[0] != '.';
    closedir(d);
    ASSERT_EQ(n, 1);
    vm_unlock(NULL);
}
