//! Files over SFTP: round trips, atomic replacement, modes, directories.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;

use core_types::job::{Connector, ProcessSpec};

use crate::support::{self, server};

#[test]
fn sftp_round_trips() {
    let Some((ssh, dir)) = support::connector_and_dir() else {
        return;
    };
    let sub = dir.path().join("a/b c/d");
    ssh.create_dir_all(&sub).unwrap();
    ssh.create_dir_all(&sub).unwrap();
    assert!(sub.is_dir());
    assert!(ssh.exists(&sub).unwrap());

    // Every byte value, and more than one SFTP packet.
    let mut contents: Vec<u8> = (0..=255u8).collect();
    contents.extend((0..2_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let file = sub.join("data.bin");
    ssh.write_file(&file, &contents).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), contents);
    assert_eq!(ssh.read_file(&file).unwrap(), contents);
    assert_eq!(
        ssh.read_file_from(&file, 250, 8).unwrap(),
        &contents[250..258]
    );
    assert_eq!(
        ssh.read_file_from(&file, 1_000_000, 70_000).unwrap(),
        &contents[1_000_000..1_070_000]
    );
    assert!(ssh.read_file_from(&file, 10_000_000, 4).unwrap().is_empty());

    // Replacing a file is atomic, and leaves no temporary file behind.
    ssh.write_file(&file, b"second").unwrap();
    ssh.write_file(&file, b"third").unwrap();
    assert_eq!(ssh.read_file(&file).unwrap(), b"third");
    let names: Vec<_> = std::fs::read_dir(&sub)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![OsString::from("data.bin")]);
    ssh.write_file(&sub.join("empty"), b"").unwrap();
    assert_eq!(ssh.read_file(&sub.join("empty")).unwrap(), b"");

    // A script: written, made executable, run with an argument.
    let script = sub.join("job script.sh");
    ssh.write_file(&script, b"#!/bin/sh\necho \"ran $1\"\n")
        .unwrap();
    ssh.set_executable(&script).unwrap();
    let mode = std::fs::metadata(&script).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let out = ssh.run(&ProcessSpec::new(&script).args(["x y"])).unwrap();
    assert_eq!(out.stdout, b"ran x y\n");

    // Names that are not UTF-8.
    let odd = sub.join(OsString::from_vec(b"odd\xffname".to_vec()));
    ssh.write_file(&odd, b"odd").unwrap();
    assert_eq!(std::fs::read(&odd).unwrap(), b"odd");

    // Missing files.
    let missing = sub.join("missing");
    let err = ssh.read_file(&missing).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(!ssh.exists(&missing).unwrap());
    let err = ssh
        .write_file(&dir.path().join("no/such/dir/f"), b"x")
        .unwrap_err();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
    let err = support::chain(&ssh.create_dir_all(&file.join("below-a-file")).unwrap_err());
    assert!(err.contains("not a directory"), "{err}");

    // Removal, recursive, with a symlink that must not be followed.
    let outside = support::tempdir();
    std::fs::write(outside.path().join("keep"), b"keep").unwrap();
    std::os::unix::fs::symlink(outside.path(), sub.join("link")).unwrap();
    ssh.remove(&dir.path().join("a")).unwrap();
    assert!(!dir.path().join("a").exists());
    assert!(outside.path().join("keep").exists());
    ssh.remove(&dir.path().join("a")).unwrap();
    ssh.write_file(&dir.path().join("f"), b"x").unwrap();
    ssh.remove(&dir.path().join("f")).unwrap();
    assert!(!dir.path().join("f").exists());
}

#[test]
fn proc_files_and_special_files() {
    let Some(server) = server() else { return };
    let ssh = server.connector();
    // /proc files have no size: they are read to their end all the same.
    let stat = ssh.read_file("/proc/self/stat".as_ref()).unwrap();
    assert!(stat.ends_with(b"\n") && stat.len() > 50, "{stat:?}");
    let boot = ssh
        .read_file("/proc/sys/kernel/random/boot_id".as_ref())
        .unwrap();
    assert_eq!(boot.len(), 37);
    let err = ssh.read_file("/proc/999999999/stat".as_ref()).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}
