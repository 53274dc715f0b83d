// SPDX-License-Identifier: Apache-2.0
//
// Machine-level and old calls (issue 14): sysfs(2) against /proc/filesystems, ustat(2) on the
// root's device, syslog(2)'s argument checks and permissions, reboot(2)'s checks (only the
// ones that change nothing: natively this runs on the host).

#include "guest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/reboot.h>
#include <linux/reboot.h>

int main(void) {
    NOTE("sysfs: the types of /proc/filesystems, in its order");
    char buf[8192] = {0};
    int fd = open("/proc/filesystems", O_RDONLY);
    EXPECT_GE(fd, 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    EXPECT_GT(n, 0);
    close(fd);
    long count = syscall(SYS_sysfs, 3);
    int lines = 0, mismatches = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        char *name = strchr(line, '\t');
        name = name ? name + 1 : line;
        char got[64] = {0};
        if (syscall(SYS_sysfs, 2, lines, got) != 0 || strcmp(got, name) != 0 ||
            syscall(SYS_sysfs, 1, name) != lines) {
            mismatches++;
        }
    }
    EXPECT_EQ(count, lines);
    EXPECT_EQ(mismatches, 0);
    EXPECT_ERRNO(syscall(SYS_sysfs, 1, "no-such-fs"), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sysfs, 1, (char *)-1), EFAULT);
    EXPECT_ERRNO(syscall(SYS_sysfs, 2, 100000, buf), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sysfs, 2, 0, (char *)-1), EFAULT);
    EXPECT_ERRNO(syscall(SYS_sysfs, 4), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sysfs, 0), EINVAL);

    NOTE("ustat");
    struct stat st;
    EXPECT_OK(stat("/proc", &st));
    char ubuf[32];
    EXPECT_OK(syscall(SYS_ustat, (unsigned)st.st_dev, ubuf));
    EXPECT_ERRNO(syscall(SYS_ustat, (unsigned)st.st_dev, (void *)-1), EFAULT);
    EXPECT_ERRNO(syscall(SYS_ustat, 0xfffffu, ubuf), EINVAL);

    NOTE("syslog");
    EXPECT_EQ(syscall(SYS_syslog, 0, NULL, 0), 0);
    EXPECT_EQ(syscall(SYS_syslog, 1, NULL, 0), 0);
    EXPECT_GT(syscall(SYS_syslog, 10, NULL, 0), 0);
    EXPECT_GE(syscall(SYS_syslog, 3, buf, 64), 0);
    EXPECT_EQ(syscall(SYS_syslog, 3, buf, 0), 0);
    EXPECT_EQ(syscall(SYS_syslog, 2, buf, 0), 0);
    EXPECT_ERRNO(syscall(SYS_syslog, 2, NULL, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_syslog, 3, buf, -1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_syslog, 8, buf, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_syslog, 8, buf, 9), EINVAL);
    EXPECT_ERRNO(syscall(SYS_syslog, 100, buf, 0), EINVAL);

    NOTE("reboot: the checks");
    EXPECT_ERRNO(syscall(SYS_reboot, 0, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_ON, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 1, LINUX_REBOOT_CMD_CAD_ON, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, 100, 0), EINVAL);

    NOTE("as a user without capabilities");
    EXPECT_OK(setresuid(65534, 65534, 0));
    // (Reading the log depends on the host's dmesg_restrict natively; every other action
    // needs CAP_SYSLOG either way.)
    EXPECT_ERRNO(syscall(SYS_syslog, 100, buf, 0), EPERM);
    EXPECT_ERRNO(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                         LINUX_REBOOT_CMD_CAD_ON, 0),
                 EPERM);
    return guest_done();
}
