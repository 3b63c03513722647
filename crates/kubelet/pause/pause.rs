//! The pause process: PID 1 of every pod sandbox. It holds the pod's namespaces open, reaps orphaned
//! children and exits cleanly on SIGINT or SIGTERM.
//!
//! Built by the kubelet's build script as a static executable (no libc needed in the image) and packed
//! into the pause image the agent imports at start.

use std::os::raw::c_int;

const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;
const SIGCHLD: c_int = 17;
const WNOHANG: c_int = 1;

unsafe extern "C" {
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn pause() -> c_int;
    fn _exit(status: c_int) -> !;
}

extern "C" fn shut_down(_signal: c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { _exit(0) }
}

extern "C" fn reap(_signal: c_int) {
    // SAFETY: waitpid is async-signal-safe; a null status pointer is allowed.
    while unsafe { waitpid(-1, std::ptr::null_mut(), WNOHANG) } > 0 {}
}

fn main() {
    if std::process::id() != 1 {
        eprintln!("Warning: pause should be the first process");
    }
    // SAFETY: installing handlers that only call async-signal-safe functions.
    unsafe {
        signal(SIGINT, shut_down);
        signal(SIGTERM, shut_down);
        signal(SIGCHLD, reap);
    }
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { pause() };
    }
}
