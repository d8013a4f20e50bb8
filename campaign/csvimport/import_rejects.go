package csvimport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/smsblast/smsblast/campaign"
)

// rejectLog holds an import's rejected rows until the recipients are
// copied (a connection runs one COPY at a time, and rejects go in after).
// The first few thousand stay in memory; the rest spill to a temporary file,
// so a file of a million bad rows costs disk, not memory. Not safe for
// concurrent use.
type rejectLog struct {
	mem   []campaign.ImportReject
	limit int
	file  *os.File
	w     *bufio.Writer
	n     int
}

func newRejectLog(limit int) *rejectLog { return &rejectLog{limit: limit} }

func (l *rejectLog) add(r campaign.ImportReject) error {
	l.n++
	if len(l.mem) < l.limit {
		l.mem = append(l.mem, r)
		return nil
	}
	if l.file == nil {
		f, err := os.CreateTemp("", "smsblast-rejects-*")
		if err != nil {
			return fmt.Errorf("spill rejected rows: %w", err)
		}
		os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
		l.file, l.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	var hdr [3 * binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(r.Line))
	n += binary.PutUvarint(hdr[n:], uint64(len(r.Raw)))
	n += binary.PutUvarint(hdr[n:], uint64(len(r.Reason)))
	l.w.Write(hdr[:n])
	l.w.WriteString(r.Raw)
	l.w.WriteString(r.Reason)
	if _, err := l.w.WriteString(r.Kind + "\n"); err != nil {
		return fmt.Errorf("spill rejected rows: %w", err)
	}
	return nil
}

// each calls fn with the rejects in order, size at a time.
func (l *rejectLog) each(size int, fn func([]campaign.ImportReject) error) error {
	for i := 0; i < len(l.mem); i += size {
		if err := fn(l.mem[i:min(i+size, len(l.mem))]); err != nil {
			return err
		}
	}
	if l.file == nil {
		return nil
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("spill rejected rows: %w", err)
	}
	if _, err := l.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read back rejected rows: %w", err)
	}
	r := bufio.NewReaderSize(l.file, 64<<10)
	buf := make([]campaign.ImportReject, 0, size)
	for {
		rj, err := readReject(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read back rejected rows: %w", err)
		}
		if buf = append(buf, rj); len(buf) == size {
			if err := fn(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

func readReject(r *bufio.Reader) (campaign.ImportReject, error) {
	line, err := binary.ReadUvarint(r)
	if err != nil {
		return campaign.ImportReject{}, err // io.EOF at a record boundary: the end
	}
	rawLen, err1 := binary.ReadUvarint(r)
	reasonLen, err2 := binary.ReadUvarint(r)
	if err := errors.Join(err1, err2); err != nil {
		return campaign.ImportReject{}, io.ErrUnexpectedEOF
	}
	b := make([]byte, rawLen+reasonLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return campaign.ImportReject{}, io.ErrUnexpectedEOF
	}
	kind, err := r.ReadString('\n')
	if err != nil {
		return campaign.ImportReject{}, io.ErrUnexpectedEOF
	}
	return campaign.ImportReject{Line: int(line), Raw: string(b[:rawLen]), Reason: string(b[rawLen:]), Kind: kind[:len(kind)-1]}, nil
}

func (l *rejectLog) close() {
	if l.file != nil {
		l.file.Close()
	}
}
