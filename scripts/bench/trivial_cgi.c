/* The CGI baseline of `make bench` (docs/operations.md#performance-targets): the cheapest program Apache can start as
 * CGI — no allocation, no file, no database — printing a fixed JSON response about the size
 * of GET /api/v1/production/lines. scripts/bench.sh compiles it with `cc -O2` at bench
 * time and serves it through the same Apache (mod_cgid) as the real binaries. */
#include <string.h>
#include <unistd.h>

static const char RESPONSE[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Cache-Control: no-store\r\n"
    "\r\n"
    "{\"data\":[{\"line_id\":1,\"line_name\":\"Linea 1\",\"line_code\":\"linea_1\",\"is_active\":true},"
    "{\"line_id\":2,\"line_name\":\"Linea 2\",\"line_code\":\"linea_2\",\"is_active\":true},"
    "{\"line_id\":3,\"line_name\":\"Linea 3\",\"line_code\":\"linea_3\",\"is_active\":true}],"
    "\"next_cursor\":null}\n";

int main(void) {
    size_t left = sizeof(RESPONSE) - 1;
    const char *p = RESPONSE;
    while (left > 0) {
        ssize_t n = write(1, p, left);
        if (n <= 0) return 1;
        p += n;
        left -= (size_t)n;
    }
    return 0;
}
