#include <zlib.h>

// deflateInit2 and inflateInit2 are macros, which Swift cannot call. Window bits 15 + 16
// select the gzip format (RFC 1952) rather than zlib's own.
static inline int booking_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
static inline int booking_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}
