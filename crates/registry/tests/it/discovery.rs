//! Where the launcher file is found: `--config`, `$LAUNCH_CONFIG`, the XDG
//! path, else the default; with real files, and the environment given as
//! values (the process environment is never changed).

use std::path::Path;

use core_types::{HostSpec, MemSize};
use registry::{ConfigSource, DiscoveryEnv, RegistryError, discover};

const ONE: &str =
    "[[launcher]]\nname = \"one\"\ntype = \"direct\"\nhost = { cores = 1, memory = \"1GiB\" }\n";
const TWO: &str =
    "[[launcher]]\nname = \"two\"\ntype = \"direct\"\nhost = { cores = 2, memory = \"2GiB\" }\n";
const THREE: &str =
    "[[launcher]]\nname = \"three\"\ntype = \"direct\"\nhost = { cores = 3, memory = \"3GiB\" }\n";

fn local_host() -> HostSpec {
    HostSpec {
        cores: 7,
        memory: MemSize::from_bytes(7 << 30),
        ..HostSpec::default()
    }
}

fn only_name(source: &ConfigSource) -> String {
    let registry = source.load(local_host).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(registry.entries().len(), 1);
    registry.entries()[0].name.clone()
}

#[test]
fn first_found_wins() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag.toml");
    let env_file = dir.path().join("env.toml");
    let xdg = dir.path().join("xdg");
    std::fs::write(&flag, ONE).unwrap();
    std::fs::write(&env_file, TWO).unwrap();
    std::fs::create_dir_all(xdg.join("launch")).unwrap();
    std::fs::write(xdg.join("launch/launchers.toml"), THREE).unwrap();
    let env = DiscoveryEnv {
        launch_config: Some(env_file.clone().into()),
        xdg_config_home: Some(xdg.clone().into()),
        home: Some(dir.path().join("home").into()),
    };

    let source = discover(Some(&flag), &env, Path::is_file);
    assert_eq!(source, ConfigSource::Flag(flag.clone()));
    assert_eq!(only_name(&source), "one");

    let source = discover(None, &env, Path::is_file);
    assert_eq!(source, ConfigSource::Env(env_file.clone()));
    assert_eq!(only_name(&source), "two");

    let no_env = DiscoveryEnv {
        launch_config: None,
        ..env.clone()
    };
    let source = discover(None, &no_env, Path::is_file);
    assert_eq!(source, ConfigSource::Xdg(xdg.join("launch/launchers.toml")));
    assert_eq!(only_name(&source), "three");

    // Without $XDG_CONFIG_HOME: ~/.config.
    let home_only = DiscoveryEnv {
        launch_config: None,
        xdg_config_home: None,
        home: Some(dir.path().join("home").into()),
    };
    assert_eq!(
        discover(None, &home_only, Path::is_file),
        ConfigSource::Default
    );
    std::fs::create_dir_all(dir.path().join("home/.config/launch")).unwrap();
    std::fs::write(dir.path().join("home/.config/launch/launchers.toml"), ONE).unwrap();
    let source = discover(None, &home_only, Path::is_file);
    assert_eq!(
        source,
        ConfigSource::Xdg(dir.path().join("home/.config/launch/launchers.toml"))
    );
    assert_eq!(only_name(&source), "one");
}

#[test]
fn the_default_is_a_direct_launcher_on_this_machine() {
    let source = discover(None, &DiscoveryEnv::default(), |_| true);
    assert_eq!(source, ConfigSource::Default);
    let registry = source.load(local_host).unwrap();
    assert!(registry.is_default());
    let entry = &registry.entries()[0];
    assert_eq!(
        (entry.name.as_str(), entry.type_name()),
        ("local", "direct")
    );
    assert_eq!(entry.connector(), Some("local"));
    assert_eq!(entry.host(), Some(&local_host()));
    let found = registry
        .find(&crate::req("cpu(cores=7)"), crate::NO_TAGS)
        .unwrap();
    assert_eq!(found.entry, 0);
    assert!(
        registry
            .find(&crate::req("cpu(cores=8)"), crate::NO_TAGS)
            .is_none()
    );
}

#[test]
fn a_named_file_that_is_missing_is_an_error_naming_how_it_was_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let env = DiscoveryEnv {
        launch_config: Some(missing.clone().into()),
        ..DiscoveryEnv::default()
    };
    let source = discover(None, &env, Path::is_file);
    let err = source.load(local_host).unwrap_err();
    assert!(matches!(err, RegistryError::Read { .. }));
    let text = test_support::chain(&err);
    assert!(
        text.starts_with(&format!(
            "{}: cannot read the launcher file (named by $LAUNCH_CONFIG): ",
            missing.display()
        )),
        "{text}"
    );
    let err = discover(Some(&missing), &env, Path::is_file)
        .load(local_host)
        .unwrap_err();
    assert!(err.to_string().contains("(named by --config)"), "{err}");
}

#[test]
fn errors_in_a_discovered_file_name_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[[launcher]]\nname = \"a\"\ntype = \"nope\"\n").unwrap();
    let err = ConfigSource::Flag(file.clone())
        .load(local_host)
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "{}:3:8: launcher[0].type: unknown launcher type `nope`",
            file.display()
        )),
        "{err}"
    );
}
