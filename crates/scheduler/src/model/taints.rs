//! Node taints and pod tolerations, and upstream's rule for when a toleration tolerates a taint.

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    /// The taint key.
    pub key: String,
    /// The taint value (empty when absent).
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

impl Taint {
    /// Reads an API taint.
    pub fn from_api(taint: &k8s_openapi::api::core::v1::Taint) -> Taint {
        Taint {
            key: taint.key.clone(),
            value: taint.value.clone().unwrap_or_default(),
            effect: taint.effect.clone(),
        }
    }

    /// Whether the taint keeps pods off the node (`NoSchedule` or `NoExecute`).
    pub fn prevents_scheduling(&self) -> bool {
        self.effect == "NoSchedule" || self.effect == "NoExecute"
    }
}

/// A pod toleration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    /// The key (empty: every key, with `Exists`).
    pub key: String,
    /// `Equal` (also when empty) or `Exists`.
    pub operator: String,
    /// The value compared with `Equal`.
    pub value: String,
    /// The effect (empty: every effect).
    pub effect: String,
}

impl Toleration {
    /// Reads an API toleration.
    pub fn from_api(toleration: &k8s_openapi::api::core::v1::Toleration) -> Toleration {
        Toleration {
            key: toleration.key.clone().unwrap_or_default(),
            operator: toleration.operator.clone().unwrap_or_default(),
            value: toleration.value.clone().unwrap_or_default(),
            effect: toleration.effect.clone().unwrap_or_default(),
        }
    }

    /// Upstream's `Toleration.ToleratesTaint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != taint.effect {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator.as_str() {
            "" | "Equal" => self.value == taint.value,
            "Exists" => true,
            _ => false,
        }
    }
}

/// Whether any toleration tolerates the taint.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations
        .iter()
        .any(|toleration| toleration.tolerates(taint))
}

/// The first `NoSchedule`/`NoExecute` taint no toleration tolerates (upstream's
/// `FindMatchingUntoleratedTaint` with the do-not-schedule filter).
pub fn untolerated<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints
        .iter()
        .find(|taint| taint.prevents_scheduling() && !tolerated(tolerations, taint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
        }
    }

    fn toleration(key: &str, operator: &str, value: &str, effect: &str) -> Toleration {
        Toleration {
            key: key.into(),
            operator: operator.into(),
            value: value.into(),
            effect: effect.into(),
        }
    }

    #[test]
    fn toleration_rules() {
        let gpu = taint("gpu", "true", "NoSchedule");
        assert!(toleration("gpu", "Equal", "true", "NoSchedule").tolerates(&gpu));
        assert!(
            toleration("gpu", "", "true", "").tolerates(&gpu),
            "empty effect: all"
        );
        assert!(!toleration("gpu", "Equal", "false", "").tolerates(&gpu));
        assert!(toleration("gpu", "Exists", "", "").tolerates(&gpu));
        assert!(
            toleration("", "Exists", "", "").tolerates(&gpu),
            "empty key: all"
        );
        assert!(!toleration("gpu", "Exists", "", "NoExecute").tolerates(&gpu));
        assert!(!toleration("gpu", "Gt", "1", "").tolerates(&gpu));
    }

    #[test]
    fn first_untolerated_scheduling_taint() {
        let taints = [
            taint("soft", "", "PreferNoSchedule"),
            taint("a", "1", "NoSchedule"),
            taint("b", "2", "NoExecute"),
        ];
        assert_eq!(untolerated(&taints, &[]).map(|t| t.key.as_str()), Some("a"));
        let tolerate_a = [toleration("a", "Exists", "", "")];
        assert_eq!(
            untolerated(&taints, &tolerate_a).map(|t| t.key.as_str()),
            Some("b")
        );
        let all = [toleration("", "Exists", "", "")];
        assert_eq!(untolerated(&taints, &all), None);
    }
}
