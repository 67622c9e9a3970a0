//! Canonical proto3 JSON for any accord.v1 message (the mapping `buf curl`, grpcurl and every
//! protobuf library use), through the descriptor set compiled into this crate.

use std::sync::OnceLock;

use prost::{Message, Name};
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET)
            .expect("the compiled descriptor set decodes")
    })
}

/// The canonical JSON value of `message` (field names in lowerCamelCase, enums by name,
/// timestamps as RFC 3339; default values included so that every field shows).
pub fn to_json<M: Message + Name>(message: &M) -> serde_json::Value {
    let descriptor = pool()
        .get_message_by_name(&M::full_name())
        .unwrap_or_else(|| panic!("{} is in the descriptor set", M::full_name()));
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("a message re-decodes with its own descriptor");
    let options = SerializeOptions::new().skip_default_fields(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .expect("serialising to a JSON value cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{Member, MemberStatus};

    #[test]
    fn messages_serialise_to_canonical_json() {
        let member = Member {
            name: "members/USA".into(),
            code: "USA".into(),
            status: MemberStatus::Active as i32,
            attributes: [("gdp_usd_bn".to_string(), 28781.0)].into(),
            ..Default::default()
        };
        let json = to_json(&member);
        assert_eq!(json["name"], "members/USA");
        assert_eq!(json["status"], "MEMBER_STATUS_ACTIVE");
        assert_eq!(json["attributes"]["gdp_usd_bn"], 28781.0);
        assert_eq!(json["accessionYear"], 0, "defaults are included");
    }
}
