//! Reading a container's CRI log file as upstream's kubelet does (`kuberuntime/logs`): start at the
//! last `tailLines` lines, skip records older than `since`, prefix timestamps at line starts, stop
//! after `limitBytes`; with `follow`, wait for writes (inotify, and a check every second) for as
//! long as the container runs, reopening the file if it is replaced.

use std::future::Future;
use std::io::{self, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};
use tokio::sync::mpsc;

use super::cri_format::{self, Record, format_timestamp};
use super::options::LogOptions;

/// How long a follow waits for a write before checking that the container still runs
/// (upstream's `logForceCheckPeriod`).
const FORCE_CHECK: Duration = Duration::from_secs(1);
/// Output is sent to the client in chunks of about this size (and whenever the file is drained).
const CHUNK: usize = 32 * 1024;
/// The block size of the backwards scan for `tailLines`.
const TAIL_BLOCK: u64 = 1024;

/// Renders records into output bytes under the options' filters and byte limit.
#[derive(Debug)]
struct Renderer<'a> {
    options: &'a LogOptions,
    remaining: Option<u64>,
    new_line: bool,
    out: Vec<u8>,
}

/// Whether rendering may go on.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    LimitReached,
}

impl<'a> Renderer<'a> {
    fn new(options: &'a LogOptions) -> Self {
        Renderer {
            options,
            remaining: options
                .limit_bytes
                .map(|limit| u64::try_from(limit).unwrap_or(0)),
            new_line: true,
            out: Vec::new(),
        }
    }

    fn render(&mut self, record: &Record<'_>) -> Flow {
        let skip = self
            .options
            .since
            .is_some_and(|since| record.timestamp < since);
        if !skip {
            let mut line = Vec::with_capacity(record.content.len() + 32);
            if self.options.timestamps && self.new_line {
                line.extend_from_slice(format_timestamp(&record.timestamp).as_bytes());
                line.push(b' ');
            }
            line.extend_from_slice(record.content);
            if let Some(remaining) = self.remaining.as_mut() {
                let take = line
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                self.out.extend_from_slice(&line[..take]);
                *remaining -= take as u64;
                if *remaining == 0 {
                    return Flow::LimitReached;
                }
            } else {
                self.out.extend_from_slice(&line);
            }
        }
        self.new_line = record.ends_line();
        Flow::Continue
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

/// The offset where the last `lines` lines of `file` start (everything for `None`). A final line
/// without its newline is not counted, as upstream's `FindTailLineStartIndex`.
pub async fn tail_start<F>(file: &mut F, lines: Option<i64>) -> io::Result<u64>
where
    F: AsyncRead + AsyncSeek + Unpin,
{
    let Some(lines) = lines.and_then(|lines| u64::try_from(lines).ok()) else {
        return Ok(0);
    };
    let size = file.seek(SeekFrom::End(0)).await?;
    let mut right = size;
    let mut count = 0u64;
    let mut left = size;
    let mut block = Vec::new();
    while right > 0 && count <= lines {
        left = right.saturating_sub(TAIL_BLOCK);
        block = vec![0; usize::try_from(right - left).unwrap_or(0)];
        file.seek(SeekFrom::Start(left)).await?;
        file.read_exact(&mut block).await?;
        count += block.iter().filter(|byte| **byte == b'\n').count() as u64;
        right = left;
    }
    let mut at = 0;
    while count > lines {
        match block[at..].iter().position(|byte| *byte == b'\n') {
            Some(index) => at += index + 1,
            None => break,
        }
        count -= 1;
    }
    Ok(left + at as u64)
}

/// Streams the log at `path` into `sink` under `options`. With `follow`, `running` is asked
/// whether the container still runs whenever the file has been drained; the stream ends when it
/// does not, or when the client goes away (`sink` closed).
pub async fn read<R, Fut>(
    path: &Path,
    options: &LogOptions,
    sink: &mpsc::Sender<Bytes>,
    mut running: R,
) -> io::Result<()>
where
    R: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut file = tokio::fs::File::open(path).await?;
    let start = tail_start(&mut file, options.tail_lines).await?;
    file.seek(SeekFrom::Start(start)).await?;
    // Without follow, a tail stops after its lines even if the file grew meanwhile.
    let mut limited = options.tail_lines.filter(|_| !options.follow);
    let mut renderer = Renderer::new(options);
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    let mut watcher: Option<Watcher> = None;
    let mut found = true;
    loop {
        let read = file.read(&mut chunk).await?;
        if read > 0 {
            pending.extend_from_slice(&chunk[..read]);
            let mut consumed = 0;
            while let Some(end) = pending[consumed..].iter().position(|byte| *byte == b'\n') {
                let line = &pending[consumed..consumed + end + 1];
                consumed += end + 1;
                if render_line(&mut renderer, line, &mut limited) == Flow::LimitReached {
                    send(sink, renderer.take()).await;
                    return Ok(());
                }
            }
            pending.drain(..consumed);
            if renderer.out.len() >= CHUNK && !send(sink, renderer.take()).await {
                return Ok(());
            }
            continue;
        }
        if !options.follow {
            // The last line may lack its newline; it is shown as it is.
            if !pending.is_empty() {
                let line = std::mem::take(&mut pending);
                render_line(&mut renderer, &line, &mut limited);
            }
            send(sink, renderer.take()).await;
            return Ok(());
        }
        if !send(sink, renderer.take()).await || !found {
            return Ok(());
        }
        let Some(active) = watcher.as_ref() else {
            // Watch from now on, then read once more in case a write came in between.
            watcher = Some(Watcher::new(path)?);
            continue;
        };
        if !running().await {
            // Drain what the container wrote before it stopped, then end.
            found = false;
            continue;
        }
        let change = tokio::select! {
            change = active.next() => Some(change?),
            () = tokio::time::sleep(FORCE_CHECK) => None,
            () = sink.closed() => return Ok(()),
        };
        if change == Some(Change::Replaced) {
            match tokio::fs::File::open(path).await {
                Ok(reopened) => {
                    file = reopened;
                    pending.clear();
                    watcher = Some(Watcher::new(path)?);
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
    }
}

/// Renders one line; malformed lines are skipped (and logged), as upstream does.
fn render_line(renderer: &mut Renderer<'_>, line: &[u8], limited: &mut Option<i64>) -> Flow {
    let record = match cri_format::parse(line) {
        Ok(record) => record,
        Err(error) => {
            tracing::debug!(%error, "skipping a malformed log line");
            return Flow::Continue;
        }
    };
    if renderer.render(&record) == Flow::LimitReached {
        return Flow::LimitReached;
    }
    if let Some(left) = limited.as_mut() {
        *left -= 1;
        if *left <= 0 {
            return Flow::LimitReached;
        }
    }
    Flow::Continue
}

/// Sends a chunk; false when the client went away.
async fn send(sink: &mpsc::Sender<Bytes>, chunk: Vec<u8>) -> bool {
    chunk.is_empty() || sink.send(Bytes::from(chunk)).await.is_ok()
}

/// What happened to a watched file.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    /// It was written to.
    Written,
    /// It was moved, removed or had its attributes changed: it may have been replaced.
    Replaced,
}

/// An inotify watch on one file.
struct Watcher {
    fd: AsyncFd<WatchFd>,
}

/// The inotify instance, as the raw descriptor tokio's reactor needs.
struct WatchFd(Inotify);

impl AsRawFd for WatchFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Watcher {
    fn new(path: &Path) -> io::Result<Watcher> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify.add_watch(
            path,
            AddWatchFlags::IN_MODIFY
                | AddWatchFlags::IN_ATTRIB
                | AddWatchFlags::IN_MOVE_SELF
                | AddWatchFlags::IN_DELETE_SELF,
        )?;
        // `AsyncFd::register`, which replaces `new`, is `unsafe` (forbidden in this crate) for a
        // contract `WatchFd` keeps anyway: it owns its descriptor for the AsyncFd's whole life.
        #[allow(deprecated)]
        let fd = AsyncFd::new(WatchFd(inotify))?;
        Ok(Watcher { fd })
    }

    async fn next(&self) -> io::Result<Change> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.get_inner().0.read_events() {
                Ok(events) if events.is_empty() => guard.clear_ready(),
                Ok(events) => {
                    let replaced = events
                        .iter()
                        .any(|event| !(event.mask & !AddWatchFlags::IN_MODIFY).is_empty());
                    return Ok(if replaced {
                        Change::Replaced
                    } else {
                        Change::Written
                    });
                }
                Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                Err(errno) => return Err(errno.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2024-01-01T00:00:01.000000001Z stdout F one
2024-01-01T00:00:02Z stderr F two
2024-01-01T00:00:03Z stdout P thr
2024-01-01T00:00:04Z stdout F ee
not a record
2024-01-01T00:00:05Z stdout F five
";

    async fn render(options: LogOptions) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        std::fs::write(&path, LOG).expect("write");
        let (sink, mut chunks) = mpsc::channel(16);
        read(&path, &options, &sink, || async { false })
            .await
            .expect("read");
        drop(sink);
        let mut out = Vec::new();
        while let Some(chunk) = chunks.recv().await {
            out.extend_from_slice(&chunk);
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[tokio::test]
    async fn whole_log_joins_partial_lines() {
        assert_eq!(
            render(LogOptions::default()).await,
            "one\ntwo\nthree\nfive\n"
        );
    }

    #[tokio::test]
    async fn timestamps_only_at_line_starts() {
        let options = LogOptions {
            timestamps: true,
            ..LogOptions::default()
        };
        assert_eq!(
            render(options).await,
            "2024-01-01T00:00:01.000000001Z one\n2024-01-01T00:00:02.000000000Z two\n\
             2024-01-01T00:00:03.000000000Z three\n2024-01-01T00:00:05.000000000Z five\n"
        );
    }

    #[tokio::test]
    async fn tail_since_and_limit() {
        let tail = |lines| LogOptions {
            tail_lines: Some(lines),
            ..LogOptions::default()
        };
        assert_eq!(render(tail(1)).await, "five\n");
        // File lines are counted, the unparsable one too, as upstream does.
        assert_eq!(render(tail(3)).await, "ee\nfive\n");
        assert_eq!(render(tail(4)).await, "three\nfive\n");
        assert_eq!(render(tail(0)).await, "");
        assert_eq!(render(tail(100)).await, "one\ntwo\nthree\nfive\n");
        let since = LogOptions {
            since: chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:02Z").ok(),
            ..LogOptions::default()
        };
        assert_eq!(render(since).await, "two\nthree\nfive\n");
        let limit = LogOptions {
            limit_bytes: Some(6),
            ..LogOptions::default()
        };
        assert_eq!(render(limit).await, "one\ntw");
    }

    #[tokio::test]
    async fn tail_start_counts_lines_from_the_end() {
        let text = "a\nbb\nccc\n";
        let mut cursor = std::io::Cursor::new(text.as_bytes().to_vec());
        assert_eq!(tail_start(&mut cursor, None).await.expect("seek"), 0);
        assert_eq!(tail_start(&mut cursor, Some(0)).await.expect("seek"), 9);
        assert_eq!(tail_start(&mut cursor, Some(1)).await.expect("seek"), 5);
        assert_eq!(tail_start(&mut cursor, Some(2)).await.expect("seek"), 2);
        assert_eq!(tail_start(&mut cursor, Some(3)).await.expect("seek"), 0);
        assert_eq!(tail_start(&mut cursor, Some(9)).await.expect("seek"), 0);
        // An unfinished last line is not a line.
        let mut cursor = std::io::Cursor::new(b"a\nbb\ncc".to_vec());
        assert_eq!(tail_start(&mut cursor, Some(1)).await.expect("seek"), 2);
        // Across scan blocks.
        let long: String = (0..500).map(|n| format!("line {n}\n")).collect();
        let mut cursor = std::io::Cursor::new(long.as_bytes().to_vec());
        let start = tail_start(&mut cursor, Some(2)).await.expect("seek");
        assert_eq!(&long[start as usize..], "line 498\nline 499\n");
    }

    #[tokio::test]
    async fn follow_streams_writes_until_the_container_stops() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        std::fs::write(&path, "2024-01-01T00:00:01Z stdout F first\n").expect("write");
        let options = LogOptions {
            follow: true,
            ..LogOptions::default()
        };
        let (sink, mut chunks) = mpsc::channel(16);
        let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let reader = {
            let path = path.clone();
            let running = running.clone();
            tokio::spawn(async move {
                read(&path, &options, &sink, move || {
                    let running = running.clone();
                    async move { running.load(std::sync::atomic::Ordering::SeqCst) }
                })
                .await
            })
        };
        assert_eq!(chunks.recv().await.as_deref(), Some(&b"first\n"[..]));
        {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open");
            file.write_all(b"2024-01-01T00:00:02Z stdout F second\n")
                .expect("append");
        }
        assert_eq!(chunks.recv().await.as_deref(), Some(&b"second\n"[..]));
        running.store(false, std::sync::atomic::Ordering::SeqCst);
        reader.await.expect("joined").expect("read");
        assert_eq!(chunks.recv().await, None);
    }
}
