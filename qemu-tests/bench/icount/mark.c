/*
 * mark — sends one message to the sara-icount QEMU plugin from inside the guest (see marker.h).
 *
 *   mark snap LABEL                 the plugin writes a line with its counters, labelled LABEL
 *   mark range NAME START END       instructions at START <= address < END (hex) count as NAME
 *   mark unrange NAME               NAME's ranges end (its counter stays in the output)
 *
 * The words are joined with single spaces and sent as they are: the plugin checks them, and reports
 * a malformed message as an "error" line in its output. Without the plugin it does nothing. Built
 * static (no dynamic loader to run first): build.sh.
 */
#include <stdio.h>
#include <string.h>

#include "marker.h"

int main(int argc, char **argv)
{
    char msg[ICOUNT_MSG_MAX + 1];
    size_t len = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: mark snap LABEL | range NAME START END | unrange NAME\n");
        return 2;
    }
    if (!icount_stubs_ok()) {
        fprintf(stderr, "mark: the marker stubs are not laid out as expected\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (n == 0) {
            fprintf(stderr, "mark: empty word\n");
            return 2;
        }
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)argv[i][k];
            if (c <= ' ' || c >= 0x7f) {
                fprintf(stderr, "mark: word %d has a blank or non-ASCII byte\n", i);
                return 2;
            }
        }
        if (len + (i > 1) + n > ICOUNT_MSG_MAX) {
            fprintf(stderr, "mark: message longer than %d bytes\n", ICOUNT_MSG_MAX);
            return 2;
        }
        if (i > 1)
            msg[len++] = ' ';
        memcpy(msg + len, argv[i], n);
        len += n;
    }
    msg[len] = '\0';
    icount_send(msg);
    return 0;
}
