//! Quantities as quota arithmetic needs them: exact sums and differences in nano units, kept in the
//! format of the quantity they came from (`DecimalSI` `500m`, `BinarySI` `64Mi`, `DecimalExponent`
//! `1e3`) and printed in upstream's canonical form (`Quantity.String()`): `1500m`, `2`, `128Mi`,
//! `1k`; a binary amount that is below 1024 or not whole prints in decimal.

use std::cmp::Ordering;
use std::fmt;

use crate::quantity::Quantity;

const NANO: i128 = 1_000_000_000;

/// How an amount prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Decimal suffixes: `n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`.
    #[default]
    DecimalSi,
    /// Binary suffixes: `Ki` to `Ei`.
    BinarySi,
    /// Exponents: `e3`.
    DecimalExponent,
}

/// A quantity in nano units with its format.
#[derive(Debug, Clone, Copy, Default)]
pub struct Amount {
    nanos: i128,
    format: Format,
}

impl PartialEq for Amount {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Amount {}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Amount {
    /// Parses a quantity (`None` when it is not one).
    pub fn parse(text: &str) -> Option<Amount> {
        let quantity = Quantity::parse(text)?;
        let trimmed = text.trim();
        let format = if trimmed.ends_with('i') {
            Format::BinarySi
        } else if trimmed
            .find(['e', 'E'])
            .is_some_and(|at| at + 1 < trimmed.len())
        {
            Format::DecimalExponent
        } else {
            Format::DecimalSi
        };
        Some(Amount {
            nanos: quantity.nano_value(),
            format,
        })
    }

    /// A whole number of units, in `DecimalSI`.
    pub fn units(value: i64) -> Amount {
        Amount {
            nanos: i128::from(value) * NANO,
            format: Format::DecimalSi,
        }
    }

    /// The amount rounded up to whole units (upstream's `RoundUp(0)`, used for storage requests).
    pub fn rounded_up(self) -> Amount {
        let remainder = self.nanos.rem_euclid(NANO);
        if remainder == 0 {
            return self;
        }
        Amount {
            nanos: self.nanos - remainder + NANO,
            ..self
        }
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// Whether the amount is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// The sum; a zero amount takes the other's format (upstream's `Quantity.Add`).
    pub fn plus(self, other: Amount) -> Amount {
        Amount {
            nanos: self.nanos.saturating_add(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// The difference.
    pub fn minus(self, other: Amount) -> Amount {
        Amount {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// The larger of two amounts.
    pub fn max(self, other: Amount) -> Amount {
        if other.nanos > self.nanos {
            other
        } else {
            self
        }
    }
}

/// Decimal suffixes by exponent of ten (multiples of three from -9 to 18).
const DECIMAL: [(i32, &str); 10] = [
    (18, "E"),
    (15, "P"),
    (12, "T"),
    (9, "G"),
    (6, "M"),
    (3, "k"),
    (0, ""),
    (-3, "m"),
    (-6, "u"),
    (-9, "n"),
];

/// Binary suffixes by power of 1024.
const BINARY: [(u32, &str); 7] = [
    (6, "Ei"),
    (5, "Pi"),
    (4, "Ti"),
    (3, "Gi"),
    (2, "Mi"),
    (1, "Ki"),
    (0, ""),
];

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let whole = self.nanos % NANO == 0;
        let small = self.nanos.abs() < 1024 * NANO;
        if self.format == Format::BinarySi && whole && !small {
            let units = self.nanos / NANO;
            for (power, suffix) in BINARY {
                let base = 1024i128.pow(power);
                if units % base == 0 {
                    return write!(f, "{}{suffix}", units / base);
                }
            }
        }
        for (exponent, suffix) in DECIMAL {
            let divisor = 10i128.pow((exponent + 9).unsigned_abs());
            if self.nanos % divisor == 0 {
                let mantissa = self.nanos / divisor;
                return match (self.format, exponent) {
                    (Format::DecimalExponent, 0) => write!(f, "{mantissa}"),
                    (Format::DecimalExponent, _) => write!(f, "{mantissa}e{exponent}"),
                    _ => write!(f, "{mantissa}{suffix}"),
                };
            }
        }
        write!(f, "{}n", self.nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Amount::parse(text)
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    fn sum(parts: &[&str]) -> String {
        parts
            .iter()
            .filter_map(|part| Amount::parse(part))
            .fold(Amount::default(), Amount::plus)
            .to_string()
    }

    #[test]
    fn canonical_forms_match_upstream() {
        assert_eq!(canonical("0.5"), "500m");
        assert_eq!(canonical("1500m"), "1500m");
        assert_eq!(canonical("2000m"), "2");
        assert_eq!(canonical("2000"), "2k");
        assert_eq!(canonical("1500"), "1500");
        assert_eq!(canonical("1024Mi"), "1Gi");
        assert_eq!(canonical("1536Mi"), "1536Mi");
        assert_eq!(canonical("512"), "512");
        assert_eq!(canonical("1.5Ki"), "1536");
        assert_eq!(canonical("0.5Ki"), "512");
        assert_eq!(canonical("1e3"), "1e3");
        assert_eq!(canonical("2E"), "2E");
        assert_eq!(canonical("0"), "0");
        assert_eq!(canonical("0Mi"), "0");
    }

    #[test]
    fn sums_keep_the_first_format() {
        assert_eq!(sum(&["500m", "500m"]), "1");
        assert_eq!(sum(&["64Mi", "64Mi"]), "128Mi");
        assert_eq!(sum(&["0", "64Mi"]), "64Mi");
        assert_eq!(sum(&["1", "1", "1"]), "3");
        assert_eq!(sum(&["100m", "1"]), "1100m");
        assert!(
            Amount::parse("1").unwrap_or_default() < Amount::parse("1001m").unwrap_or_default()
        );
        assert_eq!(
            Amount::parse("1500m")
                .map(Amount::rounded_up)
                .map(|a| a.to_string()),
            Some("2".into())
        );
    }
}
