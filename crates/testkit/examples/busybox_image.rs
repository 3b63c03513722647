//! Writes the busybox test image archive to the path given as the only argument.

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "busybox.tar".to_string());
    kubers_testkit::images::write_busybox_archive(std::path::Path::new(&path))
}
