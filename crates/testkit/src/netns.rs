//! Network namespaces for tests: each test node lives in a namespace of its own with loopback and a
//! veth pair whose address stands for the node's IP, and a default route through it, so pod
//! networking (bridges, routes, iptables rules) never touches the machine's own namespace. Deleted
//! on drop.

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;

use nix::sched::{CloneFlags, setns};

/// A network namespace created by the test, removed when dropped.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    node_ip: Ipv4Addr,
}

impl NetNs {
    /// Creates `kubers-<suffix>` with `lo` up and `eth0` = `node_ip`/24 (default route via .1).
    pub fn create(suffix: &str, node_ip: Ipv4Addr) -> io::Result<NetNs> {
        let name = format!("kubers-{suffix}");
        ip(&["netns", "add", &name])?;
        let netns = NetNs { name, node_ip };
        let octets = node_ip.octets();
        let gateway = Ipv4Addr::new(octets[0], octets[1], octets[2], 1);
        netns.ip(&["link", "set", "lo", "up"])?;
        netns.ip(&[
            "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
        ])?;
        netns.ip(&["addr", "add", &format!("{node_ip}/24"), "dev", "eth0"])?;
        netns.ip(&["link", "set", "eth0", "up"])?;
        netns.ip(&["link", "set", "eth0p", "up"])?;
        netns.ip(&["route", "add", "default", "via", &gateway.to_string()])?;
        Ok(netns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its pinned path, for `nsenter --net=`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// The node address.
    pub fn node_ip(&self) -> Ipv4Addr {
        self.node_ip
    }

    /// Runs `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// A command that runs `program` inside the namespace (through `nsenter --net=`, which keeps the
    /// machine's `/sys`, unlike `ip netns exec`).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net={}", self.path().display()))
            .arg(program);
        command
    }

    /// Forwards a port on the machine's 127.0.0.1 to `port` on the namespace's 127.0.0.1, for as long
    /// as the test process lives. Returns the local port.
    pub fn forward_loopback_port(&self, port: u16) -> io::Result<u16> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let local_port = listener.local_addr()?.port();
        let (requests, dial_requests) = mpsc::channel::<mpsc::Sender<io::Result<TcpStream>>>();
        let namespace = std::fs::File::open(self.path())?;
        // A thread that has entered the namespace dials every connection: sockets belong to the
        // namespace of the thread that created them.
        std::thread::spawn(move || {
            let entered = setns(&namespace, CloneFlags::CLONE_NEWNET);
            for reply in dial_requests {
                let stream = match &entered {
                    Ok(()) => TcpStream::connect(("127.0.0.1", port)),
                    Err(error) => Err(io::Error::other(format!("setns: {error}"))),
                };
                let _ = reply.send(stream);
            }
        });
        std::thread::spawn(move || {
            for incoming in listener.incoming() {
                let Ok(client) = incoming else { continue };
                let (reply, answer) = mpsc::channel();
                if requests.send(reply).is_err() {
                    return;
                }
                let Ok(Ok(upstream)) = answer.recv() else {
                    continue;
                };
                splice(client, upstream);
            }
        });
        Ok(local_port)
    }
}

fn splice(client: TcpStream, upstream: TcpStream) {
    let (Ok(mut client_read), Ok(mut upstream_read)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let mut client_write = client;
    let mut upstream_write = upstream;
    std::thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(std::net::Shutdown::Write);
    });
    std::thread::spawn(move || {
        let _ = io::copy(&mut upstream_read, &mut client_write);
        let _ = client_write.shutdown(std::net::Shutdown::Write);
    });
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

fn ip(args: &[&str]) -> io::Result<()> {
    let output = Command::new("ip").args(args).output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
