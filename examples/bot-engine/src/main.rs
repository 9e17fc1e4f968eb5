//! `bot-engine`: serves a Bot's platform webhooks with the configuration from the environment.

use std::process::ExitCode;

use bot_engine::Config;
use bot_engine::config::log_directive;
use bot_engine::rules::RuleSet;
use tracing_subscriber::EnvFilter;

const HELP: &str = "\
bot-engine: the chat-bot engine bot-operator deploys

USAGE:
    bot-engine                     serve, configured by the environment
    bot-engine check-rules FILE    check a rules.json file and exit
    bot-engine --help | --version

ENVIRONMENT (set by the operator's Deployment):
    BOT_PLATFORM            line | slack | telegram | discord | webhook (required)
    BOT_NAME                the Bot's name, for logs (default bot)
    BOT_LOG_LEVEL           debug | info | warn | error (default info; RUST_LOG overrides)
    BOT_PORT                listen port (default 8080)
    BOT_BIND_ADDRESS        listen address (default 0.0.0.0)
    BOT_RULES               rules file, reloaded when it changes (default /etc/bot/rules.json)
    BOT_API_BASE_URL        base URL of the platform's reply API (default: the platform's)
    BOT_BODY_LIMIT          largest webhook body in bytes (default 1048576)
    BOT_RULES_POLL_SECONDS  rules poll period backing up file notifications (default 10)

CREDENTIALS (the Bot's Secret, one variable per key):
    line      channelSecret, channelToken
    slack     signingSecret, botToken
    telegram  secretToken, botToken
    discord   publicKey
    webhook   webhookSecret

ROUTES:
    POST /webhook/{line,slack,telegram,discord,generic}   (only the configured platform's)
    GET  /healthz  /readyz  /metrics
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => serve(),
        ["-h" | "--help" | "help"] => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        ["-V" | "--version"] => {
            println!("bot-engine {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        ["check-rules", file] => check_rules(file),
        _ => {
            eprintln!("bot-engine: unexpected arguments {args:?}\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

fn check_rules(file: &str) -> ExitCode {
    let parsed = std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| RuleSet::parse(&text).map_err(|e| e.to_string()));
    match parsed {
        Ok(rules) => {
            println!("{file}: {} rules, valid", rules.len());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{file}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("bot-engine: configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::new(directives),
        _ => EnvFilter::new(log_directive(config.log_level())),
    };
    // Colours only on a terminal: in a pod, the log is read through `kubectl logs` and collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bot_engine::run(config, bot_engine::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "bot engine failed");
            ExitCode::FAILURE
        }
    }
}
