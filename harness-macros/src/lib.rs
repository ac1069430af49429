//! `#[temporal_test]`: a thin shim that turns an `async fn` into a `#[test]` calling
//! `temporal_harness::__private::run_test`. All behaviour lives in the library, where it is
//! tested; this crate only parses arguments and reports misuse at the offending token.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, ItemFn, LitBool, LitInt, LitStr, Pat, ReturnType, Token, Type};

/// See `temporal_harness::temporal_test` for the documentation.
#[proc_macro_attribute]
pub fn temporal_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(args as Args);
    let func = syn::parse_macro_input!(item as ItemFn);
    expand(args, func)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[derive(Default)]
struct Args {
    workflows: Vec<Type>,
    activities: Vec<Expr>,
    options: Vec<TokenStream2>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            match key.to_string().as_str() {
                "time_skipping" if input.peek(Token![=]) => {
                    let variant = choice(
                        input,
                        &[
                            ("auto", quote!(Auto)),
                            ("server", quote!(Server)),
                            ("test-server", quote!(TestServer)),
                        ],
                    )?;
                    args.options.push(quote!(.time_skipping_mode(
                        ::temporal_harness::runner::TimeSkippingMode::#variant
                    )));
                }
                "time_skipping" => args.options.push(quote!(.time_skipping())),
                "replay_pressure" if input.peek(Token![=]) => {
                    input.parse::<Token![=]>()?;
                    let lit: LitBool = input.parse()?;
                    args.options.push(quote!(.replay_pressure(#lit)));
                }
                "replay_pressure" => args.options.push(quote!(.replay_pressure(true))),
                "patches" => {
                    let variant =
                        choice(input, &[("on", quote!(On)), ("off", quote!(Off))])?;
                    args.options.push(quote!(.patches(
                        ::temporal_harness::runner::Patches::#variant
                    )));
                }
                "record" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse()?;
                    if lit.value().trim().is_empty() {
                        return Err(syn::Error::new(
                            lit.span(),
                            "expected the folder to record histories to, e.g. \"fixtures/histories\"",
                        ));
                    }
                    args.options.push(quote!(.record(#lit)));
                }
                "max_skips" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitInt = input.parse()?;
                    let n: u32 = lit.base10_parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        syn::Error::new(
                            lit.span(),
                            "expected a number of skips from 1 to 4294967295",
                        )
                    })?;
                    args.options.push(quote!(.max_skips(#n)));
                }
                "workflows" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let list = Punctuated::<Type, Token![,]>::parse_terminated(&content)?;
                    args.workflows.extend(list);
                }
                "activities" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let list = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
                    args.activities.extend(list);
                }
                "timeout" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse()?;
                    // Checked at compile time by the library's own grammar (a const fn): a bad
                    // literal fails the constant's evaluation, at the literal.
                    args.options.push(quote_spanned! {lit.span()=>
                        .timeout({
                            const TIMEOUT: ::std::time::Duration =
                                match ::temporal_harness::config::parse_duration_text(#lit) {
                                    ::std::option::Option::Some(timeout) => timeout,
                                    ::std::option::Option::None => ::std::panic!(
                                        "timeout: expected a duration such as \"500ms\", \"30s\" or \"2m\""
                                    ),
                                };
                            TIMEOUT
                        })
                    });
                }
                "replay" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitBool = input.parse()?;
                    args.options.push(quote!(.replay(#lit)));
                }
                "namespace" => {
                    let chosen = choice(
                        input,
                        &[
                            ("isolated", quote!(.isolated_namespace())),
                            ("shared", quote!()),
                        ],
                    )?;
                    args.options.push(chosen);
                }
                "flavor" => {
                    let variant = choice(
                        input,
                        &[("postgres", quote!(Postgres)), ("dev", quote!(Dev))],
                    )?;
                    args.options
                        .push(quote!(.flavor(::temporal_harness::config::Flavor::#variant)));
                }
                "backend" => {
                    let variant = choice(
                        input,
                        &[
                            ("auto", quote!(Auto)),
                            ("containers", quote!(Containers)),
                            ("local", quote!(Local)),
                            ("external", quote!(External)),
                        ],
                    )?;
                    args.options
                        .push(quote!(.backend(::temporal_harness::config::BackendKind::#variant)));
                }
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown argument `{other}`: expected workflows(..), activities(..), \
                             timeout = \"..\", replay = bool, namespace = \"isolated\", \
                             time_skipping [= \"..\"], replay_pressure [= bool], max_skips = N, record = \"..\", patches = \"on\"|\"off\", flavor = \"..\" or \
                             backend = \"..\""
                        ),
                    ))
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

fn expand(args: Args, func: ItemFn) -> syn::Result<TokenStream2> {
    if func.sig.asyncness.is_none() {
        return Err(syn::Error::new(
            func.sig.fn_token.span(),
            "#[temporal_test] needs an `async fn`",
        ));
    }
    let (runner, runner_type) = runner_binding(&func)?;
    let name = &func.sig.ident;
    let attrs = &func.attrs;
    let vis = &func.vis;
    let body = &func.block;
    let output = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let workflows = args
        .workflows
        .iter()
        .map(|w| quote_spanned!(w.span()=> .workflow::<#w>()));
    let activities = args
        .activities
        .iter()
        .map(|a| quote_spanned!(a.span()=> .activities(#a)));
    let options = &args.options;
    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() {
            ::temporal_harness::__private::run_test(
                ::temporal_harness::__private::TestOptions::new(
                    concat!(module_path!(), "::", stringify!(#name)),
                ) #(#options)*,
                ::temporal_harness::runner::Definitions::new() #(#workflows)* #(#activities)*,
                move |#runner: #runner_type| {
                    let body: ::std::pin::Pin<::std::boxed::Box<dyn ::std::future::Future<Output = #output>>> =
                        ::std::boxed::Box::pin(async move #body);
                    body
                },
            )
        }
    })
}

/// The pattern and type the runner binds to: the test's one `TestRunner` parameter as
/// written (so its import stays used and type errors point at it), or `_`.
fn runner_binding(func: &ItemFn) -> syn::Result<(TokenStream2, TokenStream2)> {
    let mut inputs = func.sig.inputs.iter();
    let Some(first) = inputs.next() else {
        return Ok((quote!(_), quote!(::temporal_harness::TestRunner)));
    };
    if let Some(extra) = inputs.next() {
        return Err(syn::Error::new(
            extra.span(),
            "#[temporal_test] takes at most one parameter, the `TestRunner`",
        ));
    }
    let FnArg::Typed(arg) = first else {
        return Err(syn::Error::new(first.span(), "a test cannot take `self`"));
    };
    let is_runner = matches!(&*arg.ty, Type::Path(p)
        if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "TestRunner"));
    if !is_runner {
        return Err(syn::Error::new(
            arg.ty.span(),
            "the parameter of a #[temporal_test] must be a `TestRunner`",
        ));
    }
    match &*arg.pat {
        Pat::Ident(_) | Pat::Wild(_) => {
            let (pat, ty) = (&arg.pat, &arg.ty);
            Ok((quote!(#pat), quote!(#ty)))
        }
        other => Err(syn::Error::new(
            other.span(),
            "bind the runner to a name, e.g. `runner: TestRunner`",
        )),
    }
}

/// Parses `= "value"` and returns the tokens paired with `value`, or an error at the literal
/// listing the accepted values.
fn choice(input: ParseStream, choices: &[(&str, TokenStream2)]) -> syn::Result<TokenStream2> {
    input.parse::<Token![=]>()?;
    let lit: LitStr = input.parse()?;
    let value = lit.value();
    if let Some((_, tokens)) = choices.iter().find(|(name, _)| *name == value) {
        return Ok(tokens.clone());
    }
    let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let expected = match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    Err(syn::Error::new(lit.span(), format!("expected {expected}")))
}
