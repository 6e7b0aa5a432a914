//! stdin/stdout as event-driven async I/O on the runtime's own thread when they are pipes or
//! sockets (as when a plugin starts the sidecar), instead of tokio's blocking-thread stdio: each
//! message then costs no thread hand-off. Anything else (a file, a terminal) falls back to tokio.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

pub type Reader = Pin<Box<dyn AsyncRead>>;
pub type Writer = Pin<Box<dyn AsyncWrite>>;

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Option<File> {
    fd.try_clone_to_owned().ok().map(File::from)
}

/// The process's stdin for reading.
pub fn stdin() -> Reader {
    if let Some(file) = dup(std::io::stdin().as_fd()) {
        if let Ok(meta) = file.metadata() {
            let kind = meta.file_type();
            if kind.is_fifo() {
                if let Ok(rx) = tokio::net::unix::pipe::Receiver::from_file(file) {
                    return Box::pin(rx);
                }
            } else if kind.is_socket() {
                let std = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(file));
                if std.set_nonblocking(true).is_ok() {
                    if let Ok(s) = tokio::net::UnixStream::from_std(std) {
                        return Box::pin(s);
                    }
                }
            }
        }
    }
    Box::pin(tokio::io::stdin())
}

/// The process's stdout for writing.
pub fn stdout() -> Writer {
    if let Some(file) = dup(std::io::stdout().as_fd()) {
        if let Ok(meta) = file.metadata() {
            let kind = meta.file_type();
            if kind.is_fifo() {
                if let Ok(tx) = tokio::net::unix::pipe::Sender::from_file(file) {
                    return Box::pin(tx);
                }
            } else if kind.is_socket() {
                let std = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(file));
                if std.set_nonblocking(true).is_ok() {
                    if let Ok(s) = tokio::net::UnixStream::from_std(std) {
                        return Box::pin(s);
                    }
                }
            }
        }
    }
    Box::pin(tokio::io::stdout())
}
