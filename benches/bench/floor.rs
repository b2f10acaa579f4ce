//! The machine's floor for a fan-out: the same number of loopback TCP connections between two
//! processes, one write of an event's size per connection per event, and no server, websocket
//! or JSON in between. A fan-out cannot beat it on the
//! same machine, so it says how much of a fan-out's latency is Leadboard's and how much is the
//! kernel's.
//!
//! The writing side is this binary again (`--loopback-writer`), so each process holds one end
//! of every connection, as the server and the bench do. It reads with `epoll` directly (through
//! `libc`), the least a reader can do, so this module allows `unsafe` for those three calls.
#![allow(unsafe_code)]

use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The hidden option that turns this binary into the floor's writer.
pub const WRITER_ARG: &str = "--loopback-writer";
/// Events per second the writer sends (the slow fan-out stream's rate).
pub const PER_SECOND: u64 = 2;

/// Wall-clock nanoseconds: both processes read the same clock.
fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The writer's side: `--loopback-writer CONNS BYTES ROUNDS`. Prints its port, accepts `CONNS`
/// connections, then every 1/PER_SECOND s writes one `BYTES`-long message (its send time first)
/// to every connection, from as many threads as there are cores (the server's runtime has as
/// many workers).
pub fn writer(args: &[String]) -> Result<(), String> {
    let num =
        |i: usize| args.get(i).and_then(|v| v.parse::<usize>().ok()).ok_or(format!("{WRITER_ARG} CONNS BYTES ROUNDS"));
    let (conns, bytes, rounds) = (num(0)?, num(1)?.max(8), num(2)?);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    println!("{}", listener.local_addr().map_err(|e| e.to_string())?.port());
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut socks = Vec::with_capacity(conns);
    while socks.len() < conns {
        let (s, _) = listener.accept().map_err(|e| e.to_string())?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        socks.push(s);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = conns.div_ceil(threads).max(1);
    for _ in 0..rounds {
        std::thread::sleep(Duration::from_millis(1000 / PER_SECOND));
        let mut msg = vec![b' '; bytes];
        msg[..8].copy_from_slice(&now_ns().to_be_bytes());
        std::thread::scope(|s| {
            for part in socks.chunks(chunk) {
                let msg = &msg;
                s.spawn(move || part.iter().try_for_each(|mut sock| sock.write_all(msg)));
            }
        });
    }
    // Stay until the reader has everything and hangs up.
    let _ = std::io::stdin().lock().lines().count();
    Ok(())
}

/// Runs the floor over `conns` connections with messages of `bytes`, `rounds` times: the
/// latency of every message, from its write starting to its reader having it, in nanoseconds.
/// The reader is the leanest there is, one thread on epoll, so that the floor is a floor.
pub fn measure(conns: usize, bytes: usize, rounds: usize) -> Result<Vec<u64>, String> {
    let bytes = bytes.max(8);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Writer(
        std::process::Command::new(exe)
            .args([WRITER_ARG, &conns.to_string(), &bytes.to_string(), &rounds.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("the floor's writer: {e}"))?,
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().expect("piped")).read_line(&mut line).map_err(|e| e.to_string())?;
    let port: u16 = line.trim().parse().map_err(|_| format!("the floor's writer said {line:?}"))?;
    let socks = (0..conns)
        .map(|_| {
            let s = std::net::TcpStream::connect(("127.0.0.1", port))?;
            s.set_nodelay(true)?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| format!("floor connect: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(rounds as u64 / PER_SECOND + 30);
    read_all(&socks, bytes, rounds, deadline).map_err(|e| format!("floor read: {e}"))
}

/// Kills and reaps the writer when the floor ends (it would wait for its stdin to close).
struct Writer(std::process::Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `rounds` messages of `bytes` from every socket, with epoll.
fn read_all(
    socks: &[std::net::TcpStream],
    bytes: usize,
    rounds: usize,
    deadline: Instant,
) -> std::io::Result<Vec<u64>> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let check = |r: i32| if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(r) };
    // SAFETY: plain epoll calls on descriptors this function owns or borrows for its duration.
    let ep = unsafe { OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
    for (i, s) in socks.iter().enumerate() {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: i as u64 };
        check(unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut ev) })?;
    }
    let mut pending: Vec<Vec<u8>> = vec![Vec::new(); socks.len()];
    let mut lat = Vec::with_capacity(socks.len() * rounds);
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut buf = vec![0; 64 * 1024];
    while lat.len() < socks.len() * rounds {
        if Instant::now() > deadline {
            return Err(std::io::Error::other(format!("{} of {} messages", lat.len(), socks.len() * rounds)));
        }
        let n = check(unsafe { libc::epoll_wait(ep.as_raw_fd(), events.as_mut_ptr(), events.len() as i32, 1000) })?;
        for ev in &events[..n as usize] {
            let i = ev.u64 as usize;
            let got = match (&socks[i]).read(&mut buf) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            };
            let now = now_ns();
            let p = &mut pending[i];
            p.extend_from_slice(&buf[..got]);
            for msg in p.chunks_exact(bytes) {
                lat.push(now.saturating_sub(u64::from_be_bytes(msg[..8].try_into().expect("8 bytes"))));
            }
            let whole = p.len() - p.len() % bytes;
            p.drain(..whole);
        }
    }
    Ok(lat)
}
