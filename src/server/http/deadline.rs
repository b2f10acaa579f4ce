//! A write deadline for a board's socket: a board that stops reading fills its socket's buffers,
//! and its writer would then wait for ever, holding its task and what it was sending. Past the
//! deadline the write fails and the board is dropped (it reconnects and resumes when it reads
//! again).

use futures::Sink;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// The socket stayed unwritable past the deadline, or failed.
#[derive(Debug)]
pub struct Stalled;

/// `inner`, whose every wait for room (ready, flush, close) ends after `limit`.
pub struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    /// Running while the socket has no room; reset once it has.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit, timer: None }
    }

    fn within<E>(&mut self, cx: &mut Context<'_>, poll: Poll<Result<(), E>>) -> Poll<Result<(), Stalled>> {
        match poll {
            Poll::Ready(result) => {
                self.timer = None;
                Poll::Ready(result.map_err(|_| Stalled))
            }
            Poll::Pending => {
                let limit = self.limit;
                let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.timer = None;
                        Poll::Ready(Err(Stalled))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: Sink<M> + Unpin, M> Sink<M> for WriteDeadline<S> {
    type Error = Stalled;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Stalled>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_ready(cx);
        this.within(cx, poll)
    }

    fn start_send(self: Pin<&mut Self>, item: M) -> Result<(), Stalled> {
        Pin::new(&mut self.get_mut().inner).start_send(item).map_err(|_| Stalled)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Stalled>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.within(cx, poll)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Stalled>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_close(cx);
        this.within(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::SinkExt;

    #[tokio::test]
    async fn a_write_that_finds_no_room_fails_after_the_deadline() {
        // A channel with room for one message, never read: the second send waits for room.
        let (tx, _rx) = futures::channel::mpsc::channel::<u32>(0);
        let mut sink = WriteDeadline::new(tx, Duration::from_millis(50));
        sink.feed(1).await.expect("there is room for one");
        let started = std::time::Instant::now();
        assert!(sink.send(2).await.is_err(), "no room, ever");
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn a_reader_that_keeps_up_never_meets_the_deadline() {
        let (tx, mut rx) = futures::channel::mpsc::channel::<u32>(0);
        let mut sink = WriteDeadline::new(tx, Duration::from_millis(50));
        let reader = tokio::spawn(async move {
            let mut n = 0;
            while futures::StreamExt::next(&mut rx).await.is_some() {
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            n
        });
        for i in 0..20 {
            sink.send(i).await.expect("each write finds room within the deadline");
        }
        drop(sink);
        assert_eq!(reader.await.unwrap(), 20);
    }
}
