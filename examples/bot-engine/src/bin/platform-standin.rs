//! `platform-standin`: a local stand-in of the LINE, Slack and Telegram reply APIs, and a signed LINE webhook
//! sender, for `make demo` and tests where the real platforms are unreachable.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use bot_engine::standin::{self, StandIn};

const HELP: &str = "\
platform-standin: stand-in of the chat platforms' reply APIs

USAGE:
    platform-standin serve [--port N] [--bind ADDR] [--record FILE]
        Serve the LINE (/v2/bot/message/reply), Slack (/chat.postMessage) and Telegram
        (/bot<token>/sendMessage) reply APIs, answering as the real APIs do. Every request
        is printed as one JSON line (method, path, authorization presence, body, status)
        to stdout, or appended to FILE. Point the engine at it with
        BOT_API_BASE_URL=http://ADDR:N. Port 0 (the default) picks a free port; the address
        is printed on stderr. Stops on SIGTERM or Ctrl-C.

    platform-standin send line --url URL --secret SECRET --text TEXT [--reply-token T]
        Post a LINE webhook with one text message to URL (e.g.
        http://127.0.0.1:8080/webhook/line), signed with the channel secret SECRET as LINE
        signs it (X-Line-Signature), and print the answer's status and body.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => options(&args[1..], &["--port", "--bind", "--record"]).and_then(|o| run(serve(o))),
        Some("send") if args.get(1).map(String::as_str) == Some("line") => {
            options(&args[2..], &["--url", "--secret", "--text", "--reply-token"]).and_then(|o| run(send(o)))
        }
        Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        _ => Err(format!("unexpected arguments {args:?}\n\n{HELP}")),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("platform-standin: {error}");
            ExitCode::from(2)
        }
    }
}

/// `--name value` pairs, each name one of `allowed`.
fn options(args: &[String], allowed: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(name) = iter.next() {
        if !allowed.contains(&name.as_str()) {
            return Err(format!("unknown option {name:?} (expected one of {allowed:?})"));
        }
        let value = iter.next().ok_or_else(|| format!("{name} needs a value"))?;
        out.push((name.clone(), value.clone()));
    }
    Ok(out)
}

fn get<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn run(future: impl std::future::Future<Output = Result<ExitCode, String>>) -> Result<ExitCode, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?.block_on(future)
}

async fn serve(options: Vec<(String, String)>) -> Result<ExitCode, String> {
    let port: u16 = get(&options, "--port").unwrap_or("0").parse().map_err(|e| format!("--port: {e}"))?;
    let ip: IpAddr = match get(&options, "--bind") {
        Some(addr) => addr.parse().map_err(|e| format!("--bind: {e}"))?,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let sink: Box<dyn std::io::Write + Send> = match get(&options, "--record") {
        Some(file) => Box::new(
            std::fs::OpenOptions::new().create(true).append(true).open(file).map_err(|e| format!("{file}: {e}"))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let standin = StandIn::start(SocketAddr::new(ip, port), Some(sink)).await.map_err(|e| e.to_string())?;
    eprintln!("platform-standin listening on {}", standin.url());
    bot_engine::shutdown_signal().await;
    standin.shutdown().await.map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

async fn send(options: Vec<(String, String)>) -> Result<ExitCode, String> {
    let required = |name: &str| get(&options, name).ok_or_else(|| format!("send line needs {name}"));
    let (url, secret, text) = (required("--url")?, required("--secret")?, required("--text")?);
    let reply_token = get(&options, "--reply-token").unwrap_or("standin-reply-token");
    let (status, body) = standin::send_line(url, secret, text, reply_token).await.map_err(|e| e.to_string())?;
    match body.trim_end() {
        "" => println!("{}", status.as_u16()),
        body => println!("{} {body}", status.as_u16()),
    }
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
