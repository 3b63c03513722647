//! ImageLocality: nodes that already have the pod's images score higher, by image size scaled by
//! how many nodes have the image (so one node with a popular image does not attract everything).

use super::MAX_NODE_SCORE;
use crate::cache::Cache;
use crate::model::node::NodeSpec;
use crate::model::pod::PodInfo;

const MB: i64 = 1024 * 1024;
/// Below this sum the score is 0 (upstream's `minThreshold`).
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, above this sum the score is 100 (upstream's `maxContainerThreshold`).
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// The score (already 0-100; upstream does not normalise it).
pub fn score(pod: &PodInfo, node: &NodeSpec, cache: &Cache) -> i64 {
    if pod.spec.images.is_empty() {
        return 0;
    }
    let total_nodes = cache.node_count().max(1) as f64;
    let sum: i64 = pod
        .spec
        .images
        .iter()
        .filter_map(|image| {
            let size = *node.images.get(image)?;
            let spread = cache.image_nodes(image) as f64 / total_nodes;
            Some((size as f64 * spread) as i64)
        })
        .sum();
    let max_threshold = MAX_CONTAINER_THRESHOLD * pod.spec.images.len() as i64;
    let clamped = sum.clamp(MIN_THRESHOLD, max_threshold);
    MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::node;
    use crate::model::pod::build::pod;

    #[test]
    fn sizes_scaled_by_spread() {
        let mut cache = Cache::new();
        let mut with = node("a", 1, 1, 1);
        with.images.insert("big:1".into(), 500 * MB);
        cache.upsert_node(with.clone());
        cache.upsert_node(node("b", 1, 1, 1));
        let mut p = pod("p", 0, 0);
        p.spec.images = vec!["big:1".into()];
        // 500 MB on 1 of 2 nodes: 250 MB; (250-23)*100/(1000-23) = 23.
        assert_eq!(score(&p, &with, &cache), 23);
        assert_eq!(score(&p, &node("b", 1, 1, 1), &cache), 0);
        with.images.insert("big:1".into(), 10 * MB);
        assert_eq!(score(&p, &with, &cache), 0, "under the minimum threshold");
    }
}
