//! TypeScript to JavaScript with oxc: parse, strip types, print. ES modules stay modules;
//! nothing is down-levelled (QuickJS runs modern JavaScript).

use std::path::Path;

use oxc::allocator::Allocator;
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::diagnostics::OxcDiagnostic;
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};

use super::linemap::{line_col, LineMap};
use crate::error::DeployError;

/// One module, stripped.
pub struct Stripped {
    pub js: String,
    pub lines: LineMap,
    /// Value imports (type-only ones are gone after stripping): specifier and byte offset.
    pub imports: Vec<(String, u32)>,
}

/// Strips the types of one uploaded file.
pub fn strip(path: &str, source: &str) -> Result<Stripped, DeployError> {
    let source_type = SourceType::from_path(path)
        .map_err(|e| DeployError::BadPath {
            path: path.to_owned(),
            reason: e.to_string(),
        })?
        .with_module(true);
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(diag) = parsed.diagnostics.errors().next() {
        return Err(syntax_error(path, source, diag));
    }
    if parsed.panicked {
        return Err(DeployError::Syntax {
            file: path.to_owned(),
            line: 1,
            col: 1,
            message: "the file could not be parsed".into(),
        });
    }
    let mut imports: Vec<(String, u32)> = parsed
        .module_record
        .requested_modules
        .iter()
        .flat_map(|(name, requests)| {
            requests
                .iter()
                .filter(|r| !r.is_type)
                .map(move |r| (name.as_str().to_owned(), r.span.start))
        })
        .collect();
    imports.sort_by_key(|(_, offset)| *offset);

    let mut program = parsed.program;
    let semantic = SemanticBuilder::new()
        .with_check_syntax_error(true)
        .build(&program);
    if let Some(diag) = semantic.diagnostics.errors().next() {
        return Err(syntax_error(path, source, diag));
    }
    let scoping = semantic.semantic.into_scoping();
    let options = TransformOptions::default();
    let transformed = Transformer::new(&allocator, Path::new(path), &options)
        .build_with_scoping(scoping, &mut program);
    if let Some(diag) = transformed.diagnostics.errors().next() {
        return Err(syntax_error(path, source, diag));
    }
    let printed = Codegen::new()
        .with_options(CodegenOptions {
            source_map_path: Some(path.into()),
            ..CodegenOptions::default()
        })
        .build(&program);
    let lines = printed
        .map
        .map(|map| {
            LineMap::from_tokens(map.get_tokens().map(|t| {
                (
                    t.get_dst_line(),
                    t.get_dst_col(),
                    t.get_src_line(),
                    t.get_src_col(),
                )
            }))
        })
        .unwrap_or_default();
    Ok(Stripped {
        js: printed.code,
        lines,
        imports,
    })
}

fn syntax_error(path: &str, source: &str, diag: &OxcDiagnostic) -> DeployError {
    let offset = diag.labels.first().map_or(0, |label| label.offset());
    let (line, col) = line_col(source, offset);
    let mut message = diag.message.to_string();
    if let Some(help) = &diag.help {
        message.push_str("; ");
        message.push_str(help);
    }
    DeployError::Syntax {
        file: path.to_owned(),
        line,
        col,
        message,
    }
}
