//! A drive that answers from a [`Recording`]: exactly the commands recorded, with exactly the
//! answers recorded, and nothing else. Every other command (anything that would write, and
//! any read that was not recorded) fails as a transport error naming it, so a decision made
//! from a replay can only rest on what the real drive said. Its media has the recorded size
//! and can be neither read nor written.

use std::collections::HashMap;
use std::io;

use super::fixture::{nvme_key, unhex, Recording};
use super::nvme::AdminCmd;
use super::passthrough::{DataDir, Passthrough};
use super::BlockIo;

/// What the drive answered to one command.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    sense: Vec<u8>,
    result: u32,
    data: Vec<u8>,
}

/// The command door of a recorded drive.
#[derive(Debug)]
pub struct Replay {
    answers: HashMap<Vec<u8>, Answer>,
}

impl Replay {
    /// # Errors
    /// A recording whose hex does not parse (checked when it was read).
    pub fn new(r: &Recording) -> Result<Replay, String> {
        let mut answers = HashMap::new();
        for x in &r.exchanges {
            // A command recorded twice is answered as it was the first time.
            answers.entry(unhex(&x.cdb)?).or_insert(Answer {
                status: x.status,
                sense: unhex(&x.sense)?,
                result: x.result,
                data: unhex(&x.data)?,
            });
        }
        Ok(Replay { answers })
    }

    fn find(&self, key: &[u8]) -> io::Result<&Answer> {
        self.answers.get(key).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "the replayed drive was not recorded answering {} (a replay answers only what the drive \
                     answered)",
                    super::fixture::hex(key)
                ),
            )
        })
    }
}

impl Passthrough for Replay {
    fn nvme(&self, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
        let a = self.find(&nvme_key(cmd))?;
        fill(data, &a.data);
        Ok((a.status, a.result))
    }

    fn scsi(&self, cdb: &[u8], _: DataDir, data: &mut [u8], _: u32) -> io::Result<(u8, Vec<u8>)> {
        let a = self.find(cdb)?;
        fill(data, &a.data);
        Ok((u8::try_from(a.status).unwrap_or(0xFF), a.sense.clone()))
    }
}

/// The recorded bytes, as much as the buffer holds; the rest zero (as a short transfer reads).
fn fill(data: &mut [u8], recorded: &[u8]) {
    data.fill(0);
    let n = recorded.len().min(data.len());
    data[..n].copy_from_slice(&recorded[..n]);
}

/// The media of a recorded drive: its size, and no data.
#[derive(Debug)]
pub struct NoMedia {
    pub size: u64,
    pub block_size: u32,
}

impl BlockIo for NoMedia {
    fn size(&self) -> u64 {
        self.size
    }
    fn block_size(&self) -> u32 {
        self.block_size
    }
    fn write_at(&self, _: &[u8], offset: u64) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("a replayed drive has no media to write (at byte {offset})"),
        ))
    }
    fn read_at(&self, _: &mut [u8], offset: u64) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("a replayed drive has no media to read (at byte {offset})"),
        ))
    }
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{hex, Exchange, FORMAT};
    use super::*;

    #[test]
    fn answers_exactly_what_was_recorded_and_refuses_the_rest() {
        let identify = super::super::ata::identify();
        let cmd = super::super::nvme::identify_controller();
        let r = Recording {
            format: FORMAT.into(),
            bus: "ata".into(),
            exchanges: vec![
                Exchange {
                    command: "IDENTIFY DEVICE".into(),
                    cdb: hex(&identify),
                    data: "0102".into(),
                    ..Exchange::default()
                },
                Exchange {
                    command: "Identify Controller".into(),
                    cdb: hex(&nvme_key(&cmd)),
                    status: 0,
                    result: 7,
                    data: "aa".into(),
                    ..Exchange::default()
                },
            ],
            ..Recording::default()
        };
        let d = Replay::new(&r).unwrap();
        let mut buf = [9u8; 4];
        assert_eq!(
            d.scsi(&identify, DataDir::FromDevice, &mut buf, 0).unwrap(),
            (0, vec![])
        );
        assert_eq!(buf, [1, 2, 0, 0]);
        // The buffer's address and the timeout are not the command.
        let mut page = [0u8; 2];
        let again = AdminCmd {
            addr: 0xdead_beef,
            timeout_ms: 5,
            ..cmd
        };
        assert_eq!(d.nvme(&again, &mut page).unwrap(), (0, 7));
        assert_eq!(page, [0xaa, 0]);
        // Anything else, a write above all, is not answered.
        let erase = super::super::ata::security_erase_unit();
        let e = d
            .scsi(&erase, DataDir::ToDevice, &mut [0u8; 512], 0)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert!(e.to_string().contains("not recorded"), "{e}");
        let media = NoMedia {
            size: 1 << 20,
            block_size: 512,
        };
        assert!(media.write_at(&[0; 512], 0).is_err());
        assert!(media.read_at(&mut [0; 512], 0).is_err());
    }
}
