// libfcgi, and the Linux calls the FastCGI layer needs that Swift's Glibc module leaves out.
#include <fcgiapp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

// prctl is variadic, which Swift cannot call: asks for SIGTERM when the parent process dies.
static inline int booking_request_parent_death_signal(void) {
    return prctl(PR_SET_PDEATHSIG, SIGTERM);
}
