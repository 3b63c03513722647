//! The query parameters of the pod subresources that reach the kubelet: `PodLogOptions` (checked
//! like upstream's `ValidatePodLogOptions`), `PodExecOptions` / `PodAttachOptions` and
//! `PodPortForwardOptions`, and the kubelet queries built from them (upstream's `LogLocation` and
//! `streamParams`).

use chrono::{DateTime, SecondsFormat, Utc};
use kubers_core::registry::GroupKind;
use kubers_core::status::Cause;
use serde_json::{Value, json};

use crate::errors::ApiError;

/// `pods/log` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// The container (may be omitted for single-container pods).
    pub container: Option<String>,
    /// Stream while the container runs.
    pub follow: bool,
    /// The previous instance.
    pub previous: bool,
    /// Timestamp every line.
    pub timestamps: bool,
    /// Only records of the last seconds.
    pub since_seconds: Option<i64>,
    /// Only records after this time.
    pub since_time: Option<DateTime<Utc>>,
    /// Only the last lines.
    pub tail_lines: Option<i64>,
    /// At most this many bytes.
    pub limit_bytes: Option<i64>,
}

impl LogOptions {
    /// Decodes the query of a `pods/log` request for pod `name` and validates it.
    pub fn parse(query: &str, name: &str) -> Result<Self, ApiError> {
        let mut options = LogOptions::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "container" => {
                    options.container = Some(value.into_owned()).filter(|c| !c.is_empty())
                }
                "follow" => options.follow = flag(&key, &value)?,
                "previous" => options.previous = flag(&key, &value)?,
                "timestamps" => options.timestamps = flag(&key, &value)?,
                "sinceSeconds" => options.since_seconds = Some(integer(&key, &value)?),
                "tailLines" => options.tail_lines = Some(integer(&key, &value)?),
                "limitBytes" => options.limit_bytes = Some(integer(&key, &value)?),
                "sinceTime" => {
                    let time = DateTime::parse_from_rfc3339(&value).map_err(|error| {
                        ApiError::bad_request(format!("invalid sinceTime {value:?}: {error}"))
                    })?;
                    options.since_time = Some(time.with_timezone(&Utc));
                }
                _ => {}
            }
        }
        let mut causes = Vec::new();
        if let Some(lines) = options.tail_lines.filter(|lines| *lines < 0) {
            causes.push(Cause::invalid(
                "tailLines",
                &json!(lines),
                "must be greater than or equal to 0",
            ));
        }
        if let Some(bytes) = options.limit_bytes.filter(|bytes| *bytes < 1) {
            causes.push(Cause::invalid(
                "limitBytes",
                &json!(bytes),
                "must be greater than 0",
            ));
        }
        match (options.since_seconds, options.since_time) {
            (Some(_), Some(_)) => causes.push(Cause::forbidden(
                "",
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            )),
            (Some(seconds), None) if seconds < 1 => causes.push(Cause::invalid(
                "sinceSeconds",
                &json!(seconds),
                "must be greater than 0",
            )),
            _ => {}
        }
        if !causes.is_empty() {
            let kind = GroupKind {
                group: "",
                kind: "PodLogOptions",
            };
            return Err(ApiError::invalid(kind, name, &causes));
        }
        Ok(options)
    }

    /// The kubelet's `/containerLogs` query.
    pub fn kubelet_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, on) in [
            ("follow", self.follow),
            ("previous", self.previous),
            ("timestamps", self.timestamps),
        ] {
            if on {
                query.append_pair(key, "true");
            }
        }
        if let Some(seconds) = self.since_seconds {
            query.append_pair("sinceSeconds", &seconds.to_string());
        }
        if let Some(time) = self.since_time {
            query.append_pair(
                "sinceTime",
                &time.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        }
        if let Some(lines) = self.tail_lines {
            query.append_pair("tailLines", &lines.to_string());
        }
        if let Some(bytes) = self.limit_bytes {
            query.append_pair("limitBytes", &bytes.to_string());
        }
        query.finish()
    }
}

/// `pods/exec` and `pods/attach` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOptions {
    /// The container.
    pub container: Option<String>,
    /// The argv (exec).
    pub command: Vec<String>,
    /// Attach standard input.
    pub stdin: bool,
    /// Attach standard output.
    pub stdout: bool,
    /// Attach standard error.
    pub stderr: bool,
    /// Allocate a terminal.
    pub tty: bool,
}

impl CommandOptions {
    /// Decodes the query of an exec or attach request.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut options = CommandOptions::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "container" => {
                    options.container = Some(value.into_owned()).filter(|c| !c.is_empty())
                }
                "command" => options.command.push(value.into_owned()),
                "stdin" => options.stdin = flag(&key, &value)?,
                "stdout" => options.stdout = flag(&key, &value)?,
                "stderr" => options.stderr = flag(&key, &value)?,
                "tty" => options.tty = flag(&key, &value)?,
                _ => {}
            }
        }
        Ok(options)
    }

    /// The kubelet's `/exec` or `/attach` query (`command` only for exec).
    pub fn kubelet_query(&self, with_command: bool) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, on) in [
            ("stdin", self.stdin),
            ("stdout", self.stdout),
            ("stderr", self.stderr),
            ("tty", self.tty),
        ] {
            if on {
                query.append_pair(key, "1");
            }
        }
        if with_command {
            for argument in &self.command {
                query.append_pair("command", argument);
            }
        }
        query.finish()
    }
}

/// The kubelet's `/portForward` query from a `pods/portforward` query (`ports`, repeated).
pub fn port_forward_query(query: &str) -> Result<String, ApiError> {
    let mut ports = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "ports" {
            for port in value
                .split(',')
                .map(str::trim)
                .filter(|port| !port.is_empty())
            {
                let number: u16 = port
                    .parse()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| ApiError::bad_request(format!("invalid port {port:?}")))?;
                ports.push(number.to_string());
            }
        }
    }
    if ports.is_empty() {
        return Ok(String::new());
    }
    Ok(form_urlencoded::Serializer::new(String::new())
        .append_pair("port", &ports.join(","))
        .finish())
}

/// The container a request means, as upstream's `validateContainer`: the named one if the pod has
/// it, the only one if there is one, else a 400 listing the choices.
pub fn container(pod: &Value, wanted: Option<&str>) -> Result<String, ApiError> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|containers| {
                containers
                    .iter()
                    .filter_map(|container| container["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let app = names("containers");
    let all: Vec<String> = names("initContainers")
        .into_iter()
        .chain(app.iter().cloned())
        .chain(names("ephemeralContainers"))
        .collect();
    match wanted {
        Some(wanted) if all.iter().any(|name| name == wanted) => Ok(wanted.to_string()),
        Some(wanted) => Err(ApiError::bad_request(format!(
            "container {wanted} is not valid for pod {name}"
        ))),
        None => match app.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            ))),
        },
    }
}

fn flag(key: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" | "t" | "T" | "True" | "TRUE" => Ok(true),
        "false" | "0" | "f" | "F" | "False" | "FALSE" | "" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "invalid {key} {value:?}: must be a boolean"
        ))),
    }
}

fn integer(key: &str, value: &str) -> Result<i64, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid {key} {value:?}: must be an integer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(error: ApiError) -> (u16, String) {
        (error.0.code, error.0.message().to_string())
    }

    #[test]
    fn log_options() {
        let options = LogOptions::parse(
            "container=app&follow=true&tailLines=10&timestamps=true&sinceTime=2024-01-01T00%3A00%3A00Z",
            "web",
        )
        .expect("valid");
        assert_eq!(options.container.as_deref(), Some("app"));
        assert_eq!(
            options.kubelet_query(),
            "follow=true&timestamps=true&sinceTime=2024-01-01T00%3A00%3A00Z&tailLines=10"
        );
        assert_eq!(
            LogOptions::parse("", "web").expect("valid").kubelet_query(),
            ""
        );
        assert_eq!(
            message(LogOptions::parse("tailLines=-1&limitBytes=0", "web").expect_err("invalid")),
            (
                422,
                "PodLogOptions \"web\" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]"
                    .to_string()
            )
        );
        assert_eq!(
            message(
                LogOptions::parse("sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z", "web")
                    .expect_err("invalid")
            ),
            (
                422,
                "PodLogOptions \"web\" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
                    .to_string()
            )
        );
        assert_eq!(
            message(LogOptions::parse("tailLines=x", "web").expect_err("bad")).0,
            400
        );
    }

    #[test]
    fn command_options() {
        let options = CommandOptions::parse(
            "command=sh&command=-c&command=exit+3&container=c&stderr=true&stdout=true&stdin=true",
        )
        .expect("valid");
        assert_eq!(options.command, ["sh", "-c", "exit 3"]);
        assert_eq!(
            options.kubelet_query(true),
            "stdin=1&stdout=1&stderr=1&command=sh&command=-c&command=exit+3"
        );
        assert_eq!(options.kubelet_query(false), "stdin=1&stdout=1&stderr=1");
        assert_eq!(
            port_forward_query("ports=80&ports=8080").expect("valid"),
            "port=80%2C8080"
        );
        assert_eq!(port_forward_query("").expect("valid"), "");
        assert!(port_forward_query("ports=x").is_err());
    }

    #[test]
    fn container_choice() {
        let pod = json!({"metadata": {"name": "web"}, "spec": {
            "initContainers": [{"name": "setup"}],
            "containers": [{"name": "server"}, {"name": "client"}],
        }});
        assert_eq!(container(&pod, Some("client")).expect("valid"), "client");
        assert_eq!(container(&pod, Some("setup")).expect("valid"), "setup");
        assert_eq!(
            message(container(&pod, None).expect_err("ambiguous")),
            (
                400,
                "a container name must be specified for pod web, choose one of: [setup server client]"
                    .to_string()
            )
        );
        assert_eq!(
            message(container(&pod, Some("nope")).expect_err("unknown")),
            (400, "container nope is not valid for pod web".to_string())
        );
        let single =
            json!({"metadata": {"name": "one"}, "spec": {"containers": [{"name": "app"}]}});
        assert_eq!(container(&single, None).expect("valid"), "app");
    }
}
