//! Snapshots of error messages: what a user sees.

fn render(input: &str) -> String {
    match reqparse::parse(input) {
        Ok(r) => panic!("{input:?} must not parse, got {r}"),
        Err(e) => format!("input: {input:?}\nspan: {:?}\n{e}", e.span()),
    }
}

macro_rules! snap {
    ($name:ident, $input:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(render($input));
        }
    };
}

snap!(empty, "");
snap!(only_spaces, "   ");
snap!(upper_case_keyword, "CUDA(mem=4G)");
snap!(space_inside_size, "cuda(mem=4 G)");
snap!(lower_case_unit, "cuda(mem=4g)");
snap!(fractional_size, "cuda(mem=1.5G)");
snap!(no_unit, "cpu(mem=400, cores=4)");
snap!(multiplied_cpu, "cpu(mem=4G)*2");
snap!(trailing_bar, "gpu(mem=1GiB) | ");
snap!(trailing_comma, "cpu(cores=4,)");
snap!(two_units, "duration=1d1h");
snap!(zero_count, "cuda(mem=8G) * 0");
snap!(huge_count, "cuda(mem=8G) * 99999999999999999999999");
snap!(too_many, "gpu() * 1025");
snap!(size_overflow, "cpu(mem=99999999TiB)");
snap!(duration_overflow, "duration=999999999999999999 weeks");
snap!(unknown_duration_unit, "duration=4 fortnights");
snap!(missing_paren, "cuda(mem=4G");
snap!(second_line, "cuda(mem=4G) |\n  cpu(cores=4) & mps(mem=4)");
snap!(nul_byte, "cpu(cores=4)\0");
snap!(unknown_argument, "cuda(cores=4)");

#[test]
fn long_input_shows_a_window() {
    let input = format!("{}cuda(mem=4g)", "cpu(cores=1) & ".repeat(20_000));
    let err = reqparse::parse(&input).unwrap_err();
    assert_eq!(err.offset(), input.len() - 2);
    assert_eq!(err.input(), input);
    let text = err.to_string();
    assert!(text.lines().all(|l| l.len() < 200), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn not_utf8() {
    let err = reqparse::parse_bytes(b"cuda(mem=4G) \xff").unwrap_err();
    assert_eq!(err.offset(), 13);
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn line_and_column_are_one_based_in_characters() {
    let err = reqparse::parse("cpu(cores=1) &\n é & cuda(mem=4)").unwrap_err();
    assert_eq!((err.line(), err.column()), (2, 2));
    let err = reqparse::parse("cpu(cores=1) &\n duration=4h & cuda(mem=4)").unwrap_err();
    assert_eq!((err.line(), err.column()), (2, 25));
}
