//! Channel and pattern subscriptions, and message delivery.

use std::rc::Rc;

use bytes::Bytes;
use daisy_protocol::Reply;
use hashbrown::HashMap;

use crate::client::{ClientHandle, ClientId};

#[derive(Default)]
pub struct PubSub {
    /// Subscribers of each channel, in subscription order.
    channels: HashMap<Bytes, Vec<ClientId>>,
    /// Subscribers of each pattern, in subscription order.
    patterns: HashMap<Bytes, Vec<ClientId>>,
}

impl PubSub {
    pub fn subscribe(&mut self, channel: &Bytes, client: ClientId) {
        self.channels
            .entry(channel.clone())
            .or_default()
            .push(client);
    }

    pub fn unsubscribe(&mut self, channel: &[u8], client: ClientId) {
        remove_subscriber(&mut self.channels, channel, client);
    }

    pub fn psubscribe(&mut self, pattern: &Bytes, client: ClientId) {
        self.patterns
            .entry(pattern.clone())
            .or_default()
            .push(client);
    }

    pub fn punsubscribe(&mut self, pattern: &[u8], client: ClientId) {
        remove_subscriber(&mut self.patterns, pattern, client);
    }

    /// Channels with at least one subscriber, matching `pattern` if given.
    pub fn active_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .keys()
            .filter(|channel| pattern.is_none_or(|p| daisy_command::glob::matches(p, channel)))
            .cloned()
            .collect()
    }

    pub fn subscriber_count(&self, channel: &[u8]) -> usize {
        self.channels.get(channel).map_or(0, Vec::len)
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Delivers a message to channel and pattern subscribers; returns how
    /// many deliveries were made. `client` resolves ids to live clients.
    pub fn publish(
        &self,
        channel: &[u8],
        message: &[u8],
        client: impl Fn(ClientId) -> Option<Rc<ClientHandle>>,
        outbox_limit_bytes: usize,
    ) -> usize {
        let mut receivers = 0;
        for &id in self.channels.get(channel).into_iter().flatten() {
            if let Some(handle) = client(id) {
                let mut reply = Reply::new(handle.state.borrow().protocol);
                reply.push(3);
                reply.bulk(b"message");
                reply.bulk(channel);
                reply.bulk(message);
                deliver_bounded(&handle, reply.buffer(), outbox_limit_bytes);
                receivers += 1;
            }
        }
        for (pattern, ids) in &self.patterns {
            if !daisy_command::glob::matches(pattern, channel) {
                continue;
            }
            for &id in ids {
                if let Some(handle) = client(id) {
                    let mut reply = Reply::new(handle.state.borrow().protocol);
                    reply.push(4);
                    reply.bulk(b"pmessage");
                    reply.bulk(pattern);
                    reply.bulk(channel);
                    reply.bulk(message);
                    deliver_bounded(&handle, reply.buffer(), outbox_limit_bytes);
                    receivers += 1;
                }
            }
        }
        receivers
    }
}

/// Delivers unless the client's pending output would pass the limit, in
/// which case the client is disconnected (Redis's pubsub output limit).
fn deliver_bounded(handle: &ClientHandle, bytes: &[u8], limit_bytes: usize) {
    let pending = handle.outbox.borrow().len();
    if limit_bytes > 0 && pending + bytes.len() > limit_bytes {
        tracing::warn!(
            client = handle.id,
            "pub/sub output limit reached, disconnecting"
        );
        handle.kill();
        return;
    }
    handle.deliver(bytes);
}

fn remove_subscriber(map: &mut HashMap<Bytes, Vec<ClientId>>, name: &[u8], client: ClientId) {
    if let Some(ids) = map.get_mut(name) {
        ids.retain(|&id| id != client);
        if ids.is_empty() {
            map.remove(name);
        }
    }
}
