//! stdin/stdout as event-driven async I/O on the runtime's own thread when they are pipes or
//! sockets (as when a plugin starts the sidecar), instead of tokio's blocking-thread stdio: each
//! message then costs no thread hand-off. Anything else (a file, a terminal) falls back to tokio.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;
use tokio::net::UnixStream;

pub type Reader = Pin<Box<dyn AsyncRead>>;
pub type Writer = Pin<Box<dyn AsyncWrite>>;

/// A duplicate of a standard descriptor, by what it is.
enum Stdio {
    Fifo(File),
    Socket(UnixStream),
}

fn classify(fd: BorrowedFd<'_>) -> Option<Stdio> {
    let file = File::from(fd.try_clone_to_owned().ok()?);
    let kind = file.metadata().ok()?.file_type();
    if kind.is_fifo() {
        Some(Stdio::Fifo(file))
    } else if kind.is_socket() {
        let std = std::os::unix::net::UnixStream::from(OwnedFd::from(file));
        std.set_nonblocking(true).ok()?;
        UnixStream::from_std(std).ok().map(Stdio::Socket)
    } else {
        None
    }
}

/// The process's stdin for reading.
pub fn stdin() -> Reader {
    match classify(std::io::stdin().as_fd()) {
        Some(Stdio::Fifo(f)) => match pipe::Receiver::from_file(f) {
            Ok(rx) => Box::pin(rx),
            Err(_) => Box::pin(tokio::io::stdin()),
        },
        Some(Stdio::Socket(s)) => Box::pin(s),
        None => Box::pin(tokio::io::stdin()),
    }
}

/// The process's stdout for writing.
pub fn stdout() -> Writer {
    match classify(std::io::stdout().as_fd()) {
        Some(Stdio::Fifo(f)) => match pipe::Sender::from_file(f) {
            Ok(tx) => Box::pin(tx),
            Err(_) => Box::pin(tokio::io::stdout()),
        },
        Some(Stdio::Socket(s)) => Box::pin(s),
        None => Box::pin(tokio::io::stdout()),
    }
}
