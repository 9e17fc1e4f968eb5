//! `botops.dev/v1alpha1`: Bot, Event and EventBinding.

// clippy reads repeated keys inside `#[kube(printcolumn(type = ..), printcolumn(type = ..))]`
// as duplicated attributes; they are separate columns.
#![allow(clippy::duplicated_attributes)]

use bot_derive::CustomResource;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A chat bot: the platform it talks to, the Secret holding its credentials,
/// and how its engine runs. The operator runs it as a Deployment with a
/// Service and a ConfigMap of the rules its EventBindings resolve.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "botops.dev",
    version = "v1alpha1",
    kind = "Bot",
    doc = "A chat bot: the platform it answers on, the Secret holding its credentials, and how its engine runs. The operator runs it as a Deployment with a Service and a ConfigMap of the rules its EventBindings resolve.",
    namespaced,
    status = "BotStatus",
    shortname = "bot",
    category = "botops",
    printcolumn(name = "Platform", type = "string", json_path = ".spec.platform"),
    printcolumn(name = "Ready", type = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Events", type = "integer", json_path = ".status.boundEventCount"),
    printcolumn(name = "Age", type = "date", json_path = ".metadata.creationTimestamp"),
    // `kubectl scale bot` and autoscalers scale the Bot, whose spec.replicas
    // the operator applies to the engine Deployment.
    scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.readyReplicas"),
    validation(
        rule = "self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
        message = "a Bot's name must be a DNS-1035 label (at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit): it names the Bot's Service and is a label value"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct BotSpec {
    /// The chat platform the bot answers on.
    pub platform: Platform,
    /// Name of a Secret in the Bot's namespace holding the platform
    /// credentials (for LINE: `channelSecret` and `channelToken`). The
    /// credentials never appear in the Bot itself.
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: String,
    /// Container image of the bot engine.
    #[serde(default = "default_image")]
    pub image: String,
    /// Number of engine replicas.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 10))]
    pub replicas: i32,
    /// Port the engine listens on for platform webhooks.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Log level of the engine.
    #[serde(default)]
    pub log_level: LogLevel,
    /// How the engine's webhook is exposed (default: a ClusterIP Service).
    #[serde(default)]
    pub service: BotService,
}

/// How a Bot's webhook endpoint is exposed: the Service the operator makes,
/// and the public URL the chat platform calls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotService {
    /// The Service type: `ClusterIP` (default; put an Ingress or a tunnel in
    /// front), `NodePort` (the platform calls a node's address) or
    /// `LoadBalancer`.
    #[serde(rename = "type", default)]
    pub type_: ServiceType,
    /// For `NodePort` and `LoadBalancer`: the node port (30000-32767);
    /// Kubernetes picks one when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 30000, max = 32767))]
    pub node_port: Option<i32>,
    /// The public base URL under which the platform reaches the Service
    /// (an Ingress host, a tunnel, a load balancer's DNS name), such as
    /// `https://bots.example.com/hello`. When set, `status.endpoint` is this
    /// URL followed by the platform's webhook path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub public_url: Option<String>,
}

/// The type of the Service in front of a Bot's engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    #[default]
    ClusterIP,
    /// Also on a port of every node.
    NodePort,
    /// Through the cloud provider's load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The Kubernetes name of the type (`ClusterIP`, `NodePort`, `LoadBalancer`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

impl Platform {
    /// The platform's name as in the API (`line`, `slack`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Line => "line",
            Platform::Slack => "slack",
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
            Platform::Webhook => "webhook",
        }
    }

    /// The path of the engine's webhook route for this platform
    /// (`/webhook/line`, ..., `/webhook/generic` for [`Platform::Webhook`]).
    pub fn webhook_path(self) -> &'static str {
        match self {
            Platform::Line => "/webhook/line",
            Platform::Slack => "/webhook/slack",
            Platform::Telegram => "/webhook/telegram",
            Platform::Discord => "/webhook/discord",
            Platform::Webhook => "/webhook/generic",
        }
    }
}

fn default_image() -> String {
    "ghcr.io/botops/bot-engine:0.1.0".into()
}
fn default_replicas() -> i32 {
    1
}
fn default_port() -> i32 {
    8080
}

/// Chat platforms a Bot can talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// LINE Messaging API (webhook signed with `X-Line-Signature`).
    Line,
    /// Slack Events API.
    Slack,
    /// Telegram Bot API.
    Telegram,
    /// Discord interactions.
    Discord,
    /// A generic JSON webhook.
    Webhook,
}

/// Engine log level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// The default.
    #[default]
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
}

/// What the operator observed of a Bot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the bot can answer: credentials found, objects applied,
    /// engine available), `CredentialsFound`, `Applied`, `Available`,
    /// `RulesResolved`; a map list keyed by `type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Ready replicas of the engine Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// The URL the chat platform must call: built from
    /// `spec.service.publicUrl` when set, else from the Service (its
    /// load balancer's address, a node port, or the in-cluster name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Events bound to this Bot through its EventBindings, as `binding/event`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bound_events: Vec<String>,
    /// Number of bound events.
    #[serde(default)]
    pub bound_event_count: i32,
}

/// An eventing rule: what triggers it and what the bot does. Labels on the
/// Event decide which EventBindings pick it up.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "botops.dev",
    version = "v1alpha1",
    kind = "Event",
    doc = "An eventing rule of chat bots: what triggers it and what the bot does. Its labels decide which EventBindings pick it up.",
    namespaced,
    shortname = "botevent",
    category = "botops",
    printcolumn(name = "Trigger", type = "string", json_path = ".spec.trigger.type"),
    printcolumn(name = "Age", type = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct EventSpec {
    /// When the rule fires.
    pub trigger: Trigger,
    /// What the bot does when it fires, in order.
    #[schemars(length(min = 1))]
    pub actions: Vec<Action>,
}

/// When an Event fires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// The kind of platform event.
    #[serde(rename = "type")]
    pub type_: TriggerType,
    /// For `message`: fires when the text contains any of these keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// For `message`: fires when the text matches this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// For `schedule`: a cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

/// Platform events a rule can fire on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TriggerType {
    /// A text message.
    Message,
    /// The bot joined a group.
    Join,
    /// A user followed the bot.
    Follow,
    /// A postback (button) action.
    Postback,
    /// A time schedule.
    Schedule,
}

/// One thing the bot does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// Reply with this text.
    #[schemars(length(min = 1, max = 5000))]
    pub reply: String,
}

/// Binds a Bot to the Events its label selector matches. Events created
/// before or after the binding are both picked up.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "botops.dev",
    version = "v1alpha1",
    kind = "EventBinding",
    doc = "Binds a Bot to the Events its label selector matches, created before or after the binding.",
    namespaced,
    status = "EventBindingStatus",
    shortname = "evb",
    category = "botops",
    printcolumn(name = "Bot", type = "string", json_path = ".spec.botRef.name"),
    printcolumn(name = "Events", type = "integer", json_path = ".status.eventCount"),
    printcolumn(name = "Age", type = "date", json_path = ".metadata.creationTimestamp")
)]
#[genclient(skip_verbs(delete_collection))]
#[serde(rename_all = "camelCase")]
pub struct EventBindingSpec {
    /// The Bot (in the same namespace) that gets the events.
    pub bot_ref: BotRef,
    /// Selects Events by their labels.
    pub selector: LabelSelector,
}

/// A reference to a Bot in the same namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BotRef {
    /// The Bot's name.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// What the operator resolved for an EventBinding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventBindingStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Names of the Events the selector matches, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Number of matched Events.
    #[serde(default)]
    pub event_count: i32,
}
