/* sig.h: the launcher's signal policy while a warm child runs. */
#ifndef PW_SIG_H
#define PW_SIG_H

#include <signal.h>
#include <sys/types.h>

/* Block the signals pywarm forwards (INT TERM HUP QUIT USR1 USR2 WINCH CONT
 * TSTP); they stay pending until pw_sig_forward() or pw_sig_unblock(). */
void pw_sig_block(sigset_t *saved);
/* Forward those signals to process group pgid from now on, then restore the
 * saved mask so pending ones are delivered (and forwarded) at once. */
void pw_sig_forward(pid_t pgid, const sigset_t *saved);
/* Restore the saved mask with default dispositions (before a cold exec:
 * a pending signal then acts on the launcher as it would on python3). */
void pw_sig_unblock(const sigset_t *saved);
/* Stop forwarding (the child is gone). */
void pw_sig_stop(void);

#endif
