//! A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line
//! is a comment (`# HELP`, `# TYPE`), blank, or a sample `name{label="value",…} number`,
//! label values may hold any character (escaped `\\`, `\"`, `\n`), each sample's family has
//! a `# TYPE` first, and a histogram's buckets are cumulative and end in `+Inf` equal to
//! its `_count`. Anything else is an error naming the line. (The `prometheus-parse` crate
//! was tried first: it cannot read a `}` inside a label value, as in route templates.)

use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// Family name → `counter`, `gauge`, `histogram`, `summary` or `untyped`.
    pub types: HashMap<String, String>,
}

impl Scrape {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut scrape = Self::default();
        for (n, line) in text.lines().enumerate() {
            let fail = |why: &str| format!("line {}: {why}: {line:?}", n + 1);
            if line.trim().is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.split_whitespace();
                match words.next() {
                    Some("TYPE") => {
                        let name = words.next().ok_or_else(|| fail("TYPE without a name"))?;
                        let kind = words.next().ok_or_else(|| fail("TYPE without a type"))?;
                        if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
                        {
                            return Err(fail("unknown type"));
                        }
                        valid_name(name)
                            .then_some(())
                            .ok_or_else(|| fail("bad name"))?;
                        scrape.types.insert(name.to_owned(), kind.to_owned());
                    }
                    Some("HELP") => {
                        let name = words.next().ok_or_else(|| fail("HELP without a name"))?;
                        valid_name(name)
                            .then_some(())
                            .ok_or_else(|| fail("bad name"))?;
                    }
                    _ => {}
                }
                continue;
            }
            let sample = sample(line).map_err(|why| fail(&why))?;
            if scrape.family_type(&sample.name).is_none() {
                return Err(fail("sample before its # TYPE"));
            }
            scrape.samples.push(sample);
        }
        scrape.check_histograms()?;
        Ok(scrape)
    }

    fn family_type(&self, name: &str) -> Option<&str> {
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| self.types.contains_key(*base))
            .unwrap_or(name);
        self.types.get(base).map(String::as_str)
    }

    /// The sum over samples named `name` whose labels include `labels` (0 when none).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    /// Whether any sample is named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    fn check_histograms(&self) -> Result<(), String> {
        let histograms = self.types.iter().filter(|(_, kind)| *kind == "histogram");
        for (name, _) in histograms {
            let mut series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self
                .samples
                .iter()
                .filter(|s| s.name == format!("{name}_bucket"))
            {
                let mut labels = s.labels.clone();
                let le = labels
                    .remove("le")
                    .ok_or(format!("{name}_bucket without le"))?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().map_err(|_| format!("{name}: bad le {le}"))?
                };
                series.entry(labels).or_default().push((le, s.value));
            }
            for (labels, buckets) in series {
                let cumulative = buckets
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
                let last = buckets.last().copied().unwrap_or_default();
                let count = self
                    .samples
                    .iter()
                    .find(|s| s.name == format!("{name}_count") && s.labels == labels)
                    .map(|s| s.value);
                if !cumulative || last.0 != f64::INFINITY || count != Some(last.1) {
                    return Err(format!(
                        "{name}{labels:?}: buckets not cumulative up to +Inf = _count"
                    ));
                }
            }
        }
        Ok(())
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err("bad metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        loop {
            let start = match chars.peek() {
                Some((_, '}')) => {
                    let (i, _) = chars.next().unwrap();
                    rest = &body[i + 1..];
                    break;
                }
                Some((i, _)) => *i,
                None => return Err("unterminated labels".into()),
            };
            let eq = body[start..].find('=').ok_or("label without =")? + start;
            let key = &body[start..eq];
            if !valid_name(key) || key.contains(':') {
                return Err(format!("bad label name {key:?}"));
            }
            while chars.peek().is_some_and(|(i, _)| *i <= eq) {
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value not quoted".into());
            }
            let mut value = String::new();
            loop {
                match chars.next().ok_or("unterminated label value")?.1 {
                    '"' => break,
                    '\\' => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => return Err(format!("bad escape \\{other}")),
                    },
                    c => value.push(c),
                }
            }
            if labels.insert(key.to_owned(), value).is_some() {
                return Err(format!("label {key} twice"));
            }
            if chars.peek().is_some_and(|(_, c)| *c == ',') {
                chars.next();
            }
        }
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().map_err(|_| format!("bad value {v:?}"))?,
    };
    if let Some(ts) = fields.next() {
        ts.parse::<i64>().map_err(|_| "bad timestamp".to_owned())?;
    }
    if fields.next().is_some() {
        return Err("trailing text".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}
