//! What every gRPC client of accord (the CLI, scenario runs, the web interface) uses to carry
//! its credential: one interceptor that adds `authorization: Bearer <token>` to every call, and
//! the connection type built from it. A client without a token sends nothing.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds the token, when there is one, to every call.
#[derive(Debug, Clone, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// The interceptor for `token` (`None`: no credential). Fails for a token a header cannot
    /// carry.
    pub fn new(token: Option<&str>) -> Result<Self, String> {
        token
            .map(|t| {
                format!("Bearer {t}")
                    .parse::<MetadataValue<Ascii>>()
                    .map_err(|_| "the token has characters a header cannot carry".to_string())
            })
            .transpose()
            .map(Self)
    }

    /// The interceptor for an `authorization` value already made.
    pub fn from_value(value: Option<MetadataValue<Ascii>>) -> Self {
        Self(value)
    }

    /// The `authorization` value it adds, if any.
    pub fn value(&self) -> Option<&MetadataValue<Ascii>> {
        self.0.as_ref()
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A connection with its credential on every call.
pub type Conn = InterceptedService<Channel, Bearer>;

/// `channel` with `bearer` on every call.
pub fn conn(channel: Channel, bearer: Bearer) -> Conn {
    InterceptedService::new(channel, bearer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor as _;

    #[test]
    fn the_token_goes_on_every_call_and_no_token_adds_nothing() {
        let mut with = Bearer::new(Some("acc_1234")).unwrap();
        let request = with.call(tonic::Request::new(())).unwrap();
        assert_eq!(
            request.metadata().get("authorization").unwrap(),
            "Bearer acc_1234"
        );
        let mut without = Bearer::new(None).unwrap();
        let request = without.call(tonic::Request::new(())).unwrap();
        assert!(request.metadata().get("authorization").is_none());
        assert!(Bearer::new(Some("line\nbreak")).is_err());
    }
}
