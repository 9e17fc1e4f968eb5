//! `bot-gen`: the generator as a command.
//!
//! ```text
//! bot-gen [--out DIR] [--crate-root DIR] [--group-name GROUP=NAME]... [--stdout] INPUT...
//! ```

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: bot-gen [--out DIR] [--crate-root DIR] [--group-name GROUP=NAME]... [--stdout] INPUT...\n\
         Reads #[derive(CustomResource)] structs from INPUT files or directories and writes\n\
         DIR/bot_gen.rs (clientset, listers, informers). --stdout prints instead."
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut config = bot_gen::Config::new();
    config.emit_rerun_if_changed(false);
    let mut stdout = false;
    let mut inputs = 0;
    let mut out = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => match args.next() {
                Some(d) => {
                    config.out_dir(d);
                    out = true;
                }
                None => return usage(),
            },
            "--crate-root" => match args.next() {
                Some(d) => {
                    config.crate_root(d);
                }
                None => return usage(),
            },
            "--group-name" => {
                match args.next().and_then(|s| s.split_once('=').map(|(a, b)| (a.to_string(), b.to_string()))) {
                    Some((g, n)) => {
                        config.group_name(g, n);
                    }
                    None => return usage(),
                }
            }
            "--stdout" => stdout = true,
            "-h" | "--help" => return usage(),
            _ if arg.starts_with('-') => return usage(),
            _ => {
                config.input(arg);
                inputs += 1;
            }
        }
    }
    if inputs == 0 || (!stdout && !out) {
        return usage();
    }
    let result = if stdout {
        config.render().map(|code| print!("{code}"))
    } else {
        config
            .generate()
            .map(|g| eprintln!("bot-gen: {} ({})", g.path.display(), if g.changed { "written" } else { "unchanged" }))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bot-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
