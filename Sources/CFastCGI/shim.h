// libfcgi, and the Linux calls the FastCGI layer needs that Swift's Glibc module leaves out.
#include <fcgiapp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

