//! Resource quantities (`100m`, `1.5`, `64Mi`, `1e3`, `2G`) as upstream's `resource.Quantity` parses
//! them, with exact integer arithmetic: `value()` and `milli_value()` round up like upstream.

/// A parsed quantity: `mantissa × 10^exponent × 2^binary_exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
    binary_exponent: u32,
}

impl Quantity {
    /// Parses upstream's quantity syntax; `None` when it is not a quantity.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits = format!("{whole}{fraction}");
        let mut mantissa: i128 = digits.trim_start_matches('0').parse().unwrap_or(0);
        if digits.len() > 30 {
            return None;
        }
        if negative {
            mantissa = -mantissa;
        }
        let mut exponent = -(fraction.len() as i32);
        let mut binary_exponent = 0;
        match suffix {
            "" => {}
            "n" => exponent -= 9,
            "u" => exponent -= 6,
            "m" => exponent -= 3,
            "k" => exponent += 3,
            "M" => exponent += 6,
            "G" => exponent += 9,
            "T" => exponent += 12,
            "P" => exponent += 15,
            "E" => exponent += 18,
            "Ki" => binary_exponent = 10,
            "Mi" => binary_exponent = 20,
            "Gi" => binary_exponent = 30,
            "Ti" => binary_exponent = 40,
            "Pi" => binary_exponent = 50,
            "Ei" => binary_exponent = 60,
            other => {
                let power = other
                    .strip_prefix('e')
                    .or_else(|| other.strip_prefix('E'))?;
                exponent += power.parse::<i32>().ok()?;
            }
        }
        Some(Quantity {
            mantissa,
            exponent,
            binary_exponent,
        })
    }

    /// The value in units, rounded up (bytes for memory, cores for cpu).
    pub fn value(&self) -> i128 {
        self.scaled(0)
    }

    /// The value in thousandths, rounded up (millicores for cpu).
    pub fn milli_value(&self) -> i128 {
        self.scaled(3)
    }

    /// The value in billionths, rounded up (upstream's finest precision, nano units).
    pub fn nano_value(&self) -> i128 {
        self.scaled(9)
    }

    /// `ceil(self × 10^scale)`, saturating.
    fn scaled(&self, scale: i32) -> i128 {
        let mut value = self
            .mantissa
            .saturating_mul(1i128 << self.binary_exponent.min(100));
        let exponent = self.exponent + scale;
        if exponent >= 0 {
            for _ in 0..exponent {
                value = value.saturating_mul(10);
            }
            value
        } else {
            let divisor = 10i128
                .checked_pow(exponent.unsigned_abs())
                .unwrap_or(i128::MAX);
            let quotient = value / divisor;
            if value % divisor > 0 {
                quotient + 1
            } else {
                quotient
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Quantity;

    fn parse(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    #[test]
    fn cpu_quantities() {
        assert_eq!(parse("100m").milli_value(), 100);
        assert_eq!(parse("0.1").milli_value(), 100);
        assert_eq!(parse("1.5").milli_value(), 1500);
        assert_eq!(parse("2").milli_value(), 2000);
        assert_eq!(parse("1n").milli_value(), 1);
        assert_eq!(parse("250m").value(), 1);
    }

    #[test]
    fn memory_quantities() {
        assert_eq!(parse("64Mi").value(), 64 * 1024 * 1024);
        assert_eq!(parse("1G").value(), 1_000_000_000);
        assert_eq!(parse("1e3").value(), 1000);
        assert_eq!(parse("128974848").value(), 128_974_848);
        assert_eq!(parse("1.5Gi").value(), 1_610_612_736);
    }

    #[test]
    fn rejects_non_quantities() {
        for text in ["", "abc", "1.2.3", "5Zi", ".", "1ee"] {
            assert!(Quantity::parse(text).is_none(), "{text}");
        }
    }
}
