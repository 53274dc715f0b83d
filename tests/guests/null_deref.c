// SPDX-License-Identifier: Apache-2.0
//
// Writes through a NULL pointer: the program dies of SIGSEGV, which a shell reports as 139
// (128 + 11). Not a differential guest of its own: tests/tests/real_programs.rs runs it.

#include "guest.h"

int main(void) {
    printf("before the fault\n");
    fflush(stdout);
    *(volatile int *)NULL = 1;
    printf("after the fault\n");
    return 0;
}
