#!/bin/busybox sh
# The guest's init, in two stages. Stage 1 (on the initramfs) builds a
# tmpfs root and moves into it: pivot_root, which every runtime uses, does
# not work with the initramfs as root. Stage 2 mounts
# the cgroup layout named on the kernel command line (litmus.cgroup=...),
# runs the suite and the runtime's root integration tests, and writes the
# results to the second serial port.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
if [ ! -e /.stage2 ]; then
    mkdir /newroot
    mount -t tmpfs -o size=3g tmpfs /newroot
    # The binaries (nearly all of the initramfs) are bind-mounted, not
    # copied: a copy costs about a second under TCG. Hence no switch_root
    # either (it empties the initramfs): move the new root over / and chroot.
    cp -a /etc /init /newroot/
    for d in bin tests lib lib64; do
        mkdir /newroot/$d && mount --bind /$d /newroot/$d
    done
    touch /newroot/.stage2
    umount /proc
    cd /newroot && mount --move . / && exec chroot . /init
fi
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts -o ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
ip link set lo up 2>/dev/null
# Modules the host packed for this kernel (veth for the netDevices cases).
for m in /lib/modules/$(uname -r)/*.ko; do
    [ -e "$m" ] && insmod "$m"
done
# The suite's AppArmor profile (compiled on the host), for its
# apparmorProfile case.
# securityfs first: the report names the active module from its lsm file.
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
    cat /etc/litmus-probe.apparmor > /sys/kernel/security/apparmor/.replace
fi
# Or, booted with security=selinux, litmus's SELinux policy (permissive),
# for the selinuxLabel and mountLabel cases. selinuxfs takes a policy in
# one write only, hence dd with a block larger than the file.
if [ -d /sys/fs/selinux ]; then
    mount -t selinuxfs selinuxfs /sys/fs/selinux
    dd if=/etc/litmus.selinux of=/sys/fs/selinux/load bs=1M 2>/dev/null
fi
out=/dev/ttyS1
mode=$(sed -n 's/.*litmus\.cgroup=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
mount_v1() {
    for c in cpu,cpuacct cpuset memory devices freezer blkio pids; do
        mkdir -p /sys/fs/cgroup/$c
        mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
    done
}
case "$mode" in
    v2) umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup ;;
    v1) mount_v1 ;;
    hybrid) mount_v1; mkdir -p /sys/fs/cgroup/unified; mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified ;;
esac
echo "=== LITMUS BOOTED mode=$mode uptime=$(cut -d' ' -f1 /proc/uptime)" > $out
# Every minute, the processes of the run on the console: a guest that
# does not finish shows what it was doing (the results port gets nothing
# until the end).
(while sleep 60; do
    echo "--- $(cut -d' ' -f1 /proc/uptime)s:"
    ps -o pid,ppid,stat,args | grep -v ' \[.*\]$'
done) > /dev/ttyS0 2>&1 &
litmus run --runtime /bin/litmus-runtime --probe /bin/litmus-probe --jobs 2 \
    --format json --output /tmp/report.json > /tmp/summary.txt 2>&1
rc=$?
echo "=== LITMUS SUMMARY BEGIN" > $out
cat /tmp/summary.txt > $out
echo "=== LITMUS JSON BEGIN" > $out
cat /tmp/report.json > $out
echo > $out
# On cgroup v2, the suite again as an unprivileged user (litmus-rootless,
# in /etc/passwd and /etc/subuid; newuidmap from Debian's uidmap), in a
# cgroup subtree litmus delegates to it. Without the two sweeps of every
# mount option (over three minutes of emulated CPU): mount options do not
# depend on delegation, the run above checks them here, and the host's
# rootless run in CI checks them as a user.
if [ "$mode" = v2 ]; then
    litmus run --runtime /bin/litmus-runtime --probe /bin/litmus-probe --jobs 2 --rootless \
        --exclude features_list_only_what_the_runtime_recognizes \
        --exclude linux_mount_options_have_their_mount8_meaning \
        --strict --format json --output /tmp/rootless.json > /tmp/rootless.txt 2>&1
    rrc=$?
    echo "=== LITMUS ROOTLESS SUMMARY BEGIN" > $out
    cat /tmp/rootless.txt > $out
    echo "=== LITMUS ROOTLESS JSON BEGIN" > $out
    cat /tmp/rootless.json > $out
    echo > $out
    echo "=== LITMUS ROOTLESS END rc=$rrc" > $out
fi
# The runtime's own root integration tests (libtest binaries), each under
# a deadline: a hung test then reports itself (libtest names a test running
# for over 60 s) instead of running into the host's watchdog unseen. Only
# where the command line says litmus.tests=1 (see runs_runtime_tests).
grep -q 'litmus\.tests=1' /proc/cmdline || rm -f /tests/*
for t in /tests/*; do
    [ -x "$t" ] || continue
    name=${t##*/}
    timeout -s KILL 300 env "CARGO_BIN_EXE_litmus-runtime=/bin/litmus-runtime" \
        LITMUS_PROBE=/bin/litmus-probe LITMUS_BUSYBOX=/bin/busybox \
        "$t" --test-threads 2 > /tmp/tests.txt 2>&1
    trc=$?
    [ $trc = 137 ] && echo "killed after 300 s; still running:" >> /tmp/tests.txt \
        && ps -o pid,ppid,stat,args >> /tmp/tests.txt 2>&1
    echo "=== LITMUS TESTS BEGIN name=$name" > $out
    cat /tmp/tests.txt > $out
    echo "=== LITMUS TESTS END name=$name rc=$trc" > $out
done
echo "=== LITMUS END rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)" > $out
sync
poweroff -f
