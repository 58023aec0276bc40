/* The FastCGI floor of `make bench` (issue 16): the cheapest responder libfcgi makes — no
 * allocation per request, no file, no database — answering the same fixed JSON as
 * trivial_cgi.c (about the size of GET /api/v1/production/lines) to every request.
 * scripts/bench.sh compiles it with `cc -O2 ... -lfcgi` (Debian libfcgi-dev) and serves it
 * through the same Apache + mod_fcgid as the real binaries: what is left of a request's
 * CPU when the application does nothing. */
#include <fcgiapp.h>

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
    FCGX_Request request;
    if (FCGX_Init() != 0 || FCGX_InitRequest(&request, 0, 0) != 0) return 1;
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutStr(RESPONSE, (int)(sizeof(RESPONSE) - 1), request.out);
        FCGX_Finish_r(&request);
    }
    return 0;
}
