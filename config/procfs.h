/* procfs.h: what pywarm reads of /proc about a process: its stat fields, a "Key: value" field, who holds a flock. */
#ifndef PW_PROCFS_H
#define PW_PROCFS_H

#include <sys/types.h>

/* Does /proc/locks list an exclusive flock (not a waiter) on inode ino of
 * device dev?  Returns 1 and sets *pid to the holder it names, else 0
 * (also when /proc/locks cannot be read).  Read rather than probed with
 * flock(), which could make a zygote's own LOCK_EX|LOCK_NB fail. */
int  pw_flock_holder(dev_t dev, ino_t ino, long *pid);

/* The fields of /proc/PID/stat (pid 0: this process): f[k] is field k+1
 * (man 5 proc), read as numbers past the command name, whose field is 0;
 * field 3, the state, is its letter.  Returns how many of the n were
 * read, or -1 if the file cannot be read. */
int  pw_proc_stat(pid_t pid, unsigned long long *f, int n);

/* The number after key ("Seccomp:", "VmRSS:", "Pss:") in /proc/PID/<file>
 * (pid 0: this process), or -1 if the file or the key cannot be read. */
long pw_proc_field(pid_t pid, const char *file, const char *key);

#endif
