//! A least-recently-used map with a fixed number of entries, like the `groupcache/lru` upstream's
//! event caches use: reading an entry makes it the most recent, adding beyond the limit evicts the
//! least recent.

use std::collections::{BTreeMap, HashMap};

/// A map of at most `capacity` entries that evicts the least recently used.
#[derive(Debug)]
pub(crate) struct Lru<V> {
    capacity: usize,
    entries: HashMap<String, (V, u64)>,
    /// Use tick -> key, oldest first.
    order: BTreeMap<u64, String>,
    tick: u64,
}

impl<V> Lru<V> {
    /// An empty cache holding up to `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Lru {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
        }
    }

    /// The entry for `key`, now the most recently used.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let tick = self.next_tick();
        let (value, used) = self.entries.get_mut(key)?;
        self.order.remove(used);
        *used = tick;
        self.order.insert(tick, key.to_owned());
        Some(value)
    }

    /// Sets `key` to `value` as the most recently used entry, evicting the least recent if full.
    pub(crate) fn insert(&mut self, key: String, value: V) {
        let tick = self.next_tick();
        if let Some((_, used)) = self.entries.insert(key.clone(), (value, tick)) {
            self.order.remove(&used);
        }
        self.order.insert(tick, key);
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    /// How many entries the cache holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let mut cache = Lru::new(2);
        cache.insert("a".into(), 1);
        cache.insert("b".into(), 2);
        assert_eq!(cache.get_mut("a"), Some(&mut 1));
        cache.insert("c".into(), 3);
        assert_eq!(cache.len(), 2);
        assert!(cache.get_mut("b").is_none());
        assert_eq!(cache.get_mut("a"), Some(&mut 1));
        assert_eq!(cache.get_mut("c"), Some(&mut 3));
        cache.insert("c".into(), 4);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get_mut("c"), Some(&mut 4));
    }
}
