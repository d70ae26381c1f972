//! `bulk-groups completions` and `bulk-groups man`: generated from the clap definitions, with
//! two repairs to what the generators give. The man page keeps the help's closing text
//! (examples, credentials, exit codes) line for line in a no-fill block — filled, a long
//! example command broke mid-flag and could not be copied. The bash script works despite the
//! hyphen in `bulk-groups` (clap-rs/clap#6421: the generator spells the subcommands' states two
//! ways, so nothing completed after a subcommand).

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::exit_for;
use crate::cli::Cli;
use crate::exit::Exit;
use crate::outcome::Cause;

/// The binary's name, as completion scripts register it.
const BIN: &str = "bulk-groups";

/// Print the completion script for `shell`.
pub fn completions(shell: Shell) -> Exit {
    print(&completion_script(shell))
}

/// The top-level man page, or `bulk-groups-<command>(1)` for a subcommand.
pub fn man(command: Option<&str>) -> Exit {
    let top = Cli::command();
    let page_for = match command {
        None => top,
        Some(name) => match top.find_subcommand(name) {
            // clap names are 'static; this runs once per process.
            Some(sub) => sub.clone().name(&*format!("{BIN}-{name}").leak()),
            None => {
                crate::report::logging::error(&format!(
                    "no subcommand {name:?}; try import, validate, export, demo or completions"
                ));
                return exit_for(&Cause::Unusable.into());
            }
        },
    };
    match man_page(page_for) {
        Ok(page) => print(&page),
        Err(_) => exit_for(&Cause::Unusable.into()),
    }
}

fn print(bytes: &[u8]) -> Exit {
    match std::io::stdout().write_all(bytes) {
        Ok(()) => Exit::Success,
        Err(_) => exit_for(&Cause::Unusable.into()),
    }
}

/// The completion script, repaired for bash.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    if shell != Shell::Bash {
        return script;
    }
    // clap-rs/clap#6421: the states set while walking the words are named with the binary's
    // `-` as `__` (`bulk__groups__subcmd__import`), those matched afterwards with `-` as
    // `__subcmd__` (`bulk__subcmd__groups__subcmd__import`). Use the first spelling
    // throughout; once clap is fixed this replaces nothing.
    let wrong = BIN.replace('-', "__subcmd__");
    let right = BIN.replace('-', "__");
    String::from_utf8_lossy(&script)
        .replace(&wrong, &right)
        .into_bytes()
}

/// The man page of `cmd` in roff, its closing text in a no-fill block (`.nf` … `.fi`) so that
/// every line — a long example command above all — stays as written.
pub fn man_page(cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    let closing = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(ToString::to_string);
    let without = cmd.after_help(None::<&str>).after_long_help(None::<&str>);
    let mut page = Vec::new();
    clap_mangen::Man::new(without).render(&mut page)?;
    let Some(closing) = closing else {
        return Ok(page);
    };
    let mut section = roff::Roff::new();
    section.control("SH", ["EXTRA"]).control("nf", []);
    for line in closing.lines() {
        section.text([roff::roman(line)]);
    }
    section.control("fi", []);
    // Where clap_mangen puts it: before the version section, if there is one.
    let at = page
        .windows(12)
        .position(|w| w == b"\n.SH VERSION")
        .map_or(page.len(), |at| at + 1);
    let mut rendered = Vec::new();
    section.to_writer(&mut rendered)?;
    page.splice(at..at, rendered);
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roff text back to what it reads as: `\-` is `-`, `\\` is `\`, `\*(Aq` is `'`.
    fn unescape(line: &str) -> String {
        line.replace("\\*(Aq", "'")
            .replace("\\-", "-")
            .replace("\\\\", "\\")
            .replace("\\&", "")
    }

    #[test]
    fn the_man_page_keeps_the_examples_line_for_line() {
        let import = Cli::command()
            .find_subcommand("import")
            .unwrap()
            .clone()
            .name("bulk-groups-import");
        let closing = import.get_after_help().unwrap().to_string();
        let page = String::from_utf8(man_page(import).unwrap()).unwrap();
        let lines: Vec<&str> = page.lines().collect();
        let start = lines
            .iter()
            .position(|l| *l == ".nf")
            .expect("a no-fill block");
        let end = lines.iter().position(|l| *l == ".fi").expect("its end");
        let block: Vec<String> = lines[start + 1..end].iter().map(|l| unescape(l)).collect();
        let expected: Vec<&str> = closing.lines().collect();
        assert_eq!(block, expected);
        // The nightly command is there, whole.
        assert!(
            block.iter().any(|l| l
                .trim_start()
                .starts_with("bulk-groups import /data/hr/groups.csv --sync")),
            "{block:#?}"
        );
        assert!(lines[..start].contains(&".SH EXTRA"));
    }

    #[test]
    fn the_closing_text_comes_where_clap_mangen_puts_it() {
        let page = String::from_utf8(man_page(Cli::command()).unwrap()).unwrap();
        let extra = page.find("\n.SH EXTRA\n.nf\n").expect("the closing text");
        let version = page
            .find("\n.SH VERSION")
            .expect("the version section is kept");
        assert!(page.find("\n.SH SUBCOMMANDS").unwrap() < extra && extra < version);
    }

    #[test]
    fn the_bash_script_spells_each_state_one_way() {
        let script = String::from_utf8(completion_script(Shell::Bash)).unwrap();
        assert!(!script.contains("bulk__subcmd__groups"), "{script}");
        assert!(
            script.contains("        bulk__groups__subcmd__import)"),
            "{script}"
        );
        assert!(
            script.contains("cmd=\"bulk__groups__subcmd__import\""),
            "{script}"
        );
    }
}
