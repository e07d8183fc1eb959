//! One line for an error and all its causes.
//!
//! Some errors keep the useful part in their causes: reqwest's `Display` says "error sending
//! request for url (…)" and only `source()` says "connection refused" or "operation timed out".
//! Logs and error messages about an outbound call (the forwarder's HTTP sink, the external
//! crypto service) render the whole chain with [`render`].

use std::error::Error;

/// `error` followed by each of its causes, outermost first, joined with `": "`.
pub fn render(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error whose `Display` shows only its own message, like reqwest's.
    #[derive(Debug)]
    struct Layer {
        message: &'static str,
        cause: Option<Box<Layer>>,
    }

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.message)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.cause
                .as_deref()
                .map(|cause| cause as &(dyn Error + 'static))
        }
    }

    fn chain(messages: &[&'static str]) -> Layer {
        let mut layers = messages.iter().rev();
        let innermost = Layer {
            message: layers.next().expect("at least one message"),
            cause: None,
        };
        layers.fold(innermost, |cause, &message| Layer {
            message,
            cause: Some(Box::new(cause)),
        })
    }

    #[test]
    fn a_nested_error_renders_every_cause_once_in_order() {
        let error = chain(&[
            "sending the batch",
            "client error (Connect)",
            "connection refused",
        ]);
        let text = render(&error);
        assert_eq!(
            text,
            "sending the batch: client error (Connect): connection refused"
        );
        for message in [
            "sending the batch",
            "client error (Connect)",
            "connection refused",
        ] {
            assert_eq!(text.matches(message).count(), 1, "{message:?} in {text:?}");
        }
    }

    #[test]
    fn an_error_without_a_cause_is_its_own_message() {
        assert_eq!(render(&chain(&["timed out"])), "timed out");
    }

    #[tokio::test]
    async fn a_refused_reqwest_call_names_the_refusal() {
        // A port that was just free: nothing listens there any more.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let error = reqwest::Client::new()
            .get(format!("http://{address}/"))
            .send()
            .await
            .expect_err("nothing listens");
        let text = render(&error);
        assert!(text.starts_with(&error.to_string()), "{text}");
        assert!(text.to_lowercase().contains("connection refused"), "{text}");
    }
}
