//! Talking to a person at a terminal: the hidden token prompt, a plain
//! line prompt and the arrow-key provider menu. Prompts go to stderr;
//! stdout keeps the report. Ctrl+C restores the terminal and ends the
//! command with status 130 before anything is written.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{Result, bail};

/// Ctrl+C at a prompt: `main` exits with status 130.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted; nothing was changed")
    }
}

impl std::error::Error for Interrupted {}

/// Both stdin and stdout are terminals: a person is there to answer
/// menus and questions.
pub fn interactive() -> bool {
    stdin_is_terminal() && std::io::stdout().is_terminal()
}

/// Keys come from a person: a secret must be read without echo, even
/// when stdout goes to a file.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// The terminal in a mode that passes every key through without echo;
/// the previous mode comes back when this is dropped, however the prompt
/// ends.
struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    fn enter() -> Result<RawMode> {
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(0, &mut saved) } != 0 {
            bail!(
                "cannot read the terminal settings: {}",
                std::io::Error::last_os_error()
            );
        }
        let mut raw = saved;
        raw.c_lflag &= !(libc::ECHO | libc::ICANON | libc::ISIG | libc::IEXTEN);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: `raw` is a valid termios derived from the current one.
        if unsafe { libc::tcsetattr(0, libc::TCSAFLUSH, &raw) } != 0 {
            bail!(
                "cannot change the terminal settings: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter`.
        unsafe { libc::tcsetattr(0, libc::TCSAFLUSH, &self.saved) };
    }
}

/// Reads a secret from the terminal without echoing it. UTF-8 may arrive
/// split across reads; Backspace removes one whole character; Enter
/// finishes; Ctrl+C is [`Interrupted`].
pub fn hidden(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let typed = {
        let _raw = RawMode::enter()?;
        read_keys(&mut std::io::stdin().lock(), &mut std::io::sink())
    };
    eprintln!();
    typed.map_err(|err| match err.downcast::<Interrupted>() {
        Ok(interrupted) => interrupted.into(),
        Err(err) => err.context("Token input ended before confirmation."),
    })
}

/// Reads an answer from the terminal, echoed, with the same keys as
/// [`hidden`] (so Ctrl+C is [`Interrupted`], not a signal).
pub fn visible(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let typed = {
        let _raw = RawMode::enter()?;
        read_keys(&mut std::io::stdin().lock(), &mut std::io::stderr())
    };
    eprintln!();
    typed
}

/// The line editor behind both prompts; `echo` sees what the person
/// should see.
fn read_keys(input: &mut impl Read, echo: &mut dyn Write) -> Result<String> {
    let mut typed: Vec<u8> = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if input.read(&mut byte)? == 0 {
            bail!("input ended before Enter");
        }
        match byte[0] {
            0x03 => return Err(Interrupted.into()),
            0x04 => bail!("input ended before Enter"),
            b'\r' | b'\n' => break,
            0x7f | 0x08 => {
                // Drop continuation bytes, then the character's first byte.
                while typed.last().is_some_and(|b| b & 0xC0 == 0x80) {
                    typed.pop();
                }
                if typed.pop().is_some() {
                    echo.write_all(b"\x08 \x08")?;
                }
            }
            0x15 => typed.clear(),
            b if b < 0x20 => {}
            b => {
                typed.push(b);
                echo.write_all(&[b])?;
            }
        }
        echo.flush()?;
    }
    String::from_utf8(typed).map_err(|_| anyhow::anyhow!("the input is not valid UTF-8 text"))
}

/// Reads one line of piped stdin.
pub fn line() -> Result<Option<String>> {
    let mut text = String::new();
    if std::io::stdin().lock().read_line(&mut text)? == 0 {
        return Ok(None);
    }
    Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()))
}

/// An arrow-key menu: ↑/↓ (or k/j) move and wrap around, Enter selects.
pub fn menu(title: &str, items: &[(String, String)]) -> Result<usize> {
    let mut err = std::io::stderr();
    writeln!(err, "{title}")?;
    let mut chosen = 0;
    let draw = |err: &mut std::io::Stderr, chosen: usize| -> std::io::Result<()> {
        for (i, (label, summary)) in items.iter().enumerate() {
            let mark = if i == chosen { '>' } else { ' ' };
            write!(err, "\r\x1b[2K{mark} {label:<26} {summary}\r\n")?;
        }
        err.flush()
    };
    let picked = {
        let _raw = RawMode::enter()?;
        write!(err, "\x1b[?25l")?;
        let result = (|| -> Result<usize> {
            draw(&mut err, chosen)?;
            let mut keys = std::io::stdin().lock();
            let mut byte = [0u8; 1];
            let mut escape = 0;
            loop {
                if keys.read(&mut byte)? == 0 {
                    bail!("Input ended before a provider was selected.");
                }
                let step: isize = match (escape, byte[0]) {
                    (_, 0x03) => return Err(Interrupted.into()),
                    (0, b'\r' | b'\n') => return Ok(chosen),
                    (0, 0x1b) => {
                        escape = 1;
                        continue;
                    }
                    (1, b'[') => {
                        escape = 2;
                        continue;
                    }
                    (2, b'A') | (0, b'k') => -1,
                    (2, b'B') | (0, b'j') => 1,
                    _ => 0,
                };
                escape = 0;
                let len = items.len() as isize;
                chosen = (chosen as isize + step).rem_euclid(len) as usize;
                write!(err, "\x1b[{}A", items.len())?;
                draw(&mut err, chosen)?;
            }
        })();
        write!(err, "\x1b[?25h")?;
        result
    };
    let picked = picked?;
    writeln!(err, "Selected: {}", items[picked].0)?;
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backspace_removes_a_whole_character_and_enter_finishes() {
        let mut typed = "CANARY\u{1F600}\x7fZ\rignored".as_bytes();
        let mut shown = Vec::new();
        assert_eq!(read_keys(&mut typed, &mut shown).unwrap(), "CANARYZ");
        assert!(shown.ends_with(b"\x08 \x08Z"));
    }

    #[test]
    fn ctrl_c_interrupts_and_eof_is_an_error() {
        let err = read_keys(&mut "abc\x03".as_bytes(), &mut std::io::sink()).unwrap_err();
        assert!(err.is::<Interrupted>());
        let err = read_keys(&mut "abc".as_bytes(), &mut std::io::sink()).unwrap_err();
        assert_eq!(err.to_string(), "input ended before Enter");
    }
}
