#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/: a few small valid (and near-valid) inputs
per parser. Standard library only (struct, zlib, gzip, zipfile, json). Files copied from
tests/fixtures and experiments/ are copied by fuzz/seeds/copy_seeds.sh."""
import gzip, io, json, os, struct, zipfile, zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")

def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# FASTA / FASTQ
fa = ">s1 first\nACGTACGTNNACGT\nacgtRYacgt\n>s2\nGGGGCCCCAAAATTTT\n"
put("fasta", "two.fa", fa)
put("fasta", "one.fq", "@r1\nACGTNACGT\n+\nIIIIIIIII\n")
put("fasta", "two.fa.gz", gzip.compress(fa.encode(), mtime=0))
put("fasta", "crlf.fa", fa.replace("\n", "\r\n"))

# Delimited tables: benchmark tables and MMIDAS embedding tables
put("table", "gb.csv", "seq,label\nACGTACGT,1\nTTTTAAAA,0\n")
put("table", "nt.tsv", "name\tsequence\tlabel\ttask\nr1\tACGTN\t1\tpromoter\nr2\tGGCC\t0\tpromoter\n")
put("table", "quoted.csv", 'sequence,label\n"ACGT",1\r\n"GG""CC",0\r\n')
put("table", "emb.tsv", "gene\td0\td1\td2\ng1\t0.5\t-1\t2e3\ng2\t1\t2\t3\n")
put("table", "emb.csv.gz", gzip.compress(b"id,a,b\nx,1,2\ny,3,4\n", mtime=0))

# npy: version 1.0 header, little-endian f4 / f8 / <f2, C order
def npy(descr, shape, payload, fortran=False, version=1):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    pre = 10 if version == 1 else 12
    pad = 64 - (pre + len(h) + 1) % 64
    h = h + " " * pad + "\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(h)) + h.encode() + payload

f4 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
put("npy", "f4_2x3.npy", npy("<f4", "(2, 3)", f4))
put("npy", "f8_1x2.npy", npy("<f8", "(1, 2)", struct.pack("<2d", 0.5, -1)))
put("npy", "f2_1x2_v2.npy", npy("<f2", "(1, 2)", struct.pack("<2e", 0.5, -1), version=2))
put("npy", "fortran.npy", npy("<f4", "(3, 2)", f4, fortran=True))

def npz(members, compress):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            z.writestr(zi, data)
    return b.getvalue()

put("npz", "one.npz", npz([("emb.npy", npy("<f4", "(1, 2)", struct.pack("<2f", 1, 2)))], False))
put("npz", "one_deflate.npz", npz([("emb.npy", npy("<f4", "(1, 3)", struct.pack("<3f", 1, 2, 3)))], True))
put("npz", "two.npz", npz([("a.npy", npy("<f8", "(1, 1)", struct.pack("<d", 1))),
                           ("b.npy", npy("<f4", "(2,)", struct.pack("<2f", 1, 2)))], False))

# safetensors: 8-byte LE header length, JSON header, data
def st(tensors, meta=None):
    hdr, data = {}, b""
    for name, dtype, shape, payload in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    if meta:
        hdr["__metadata__"] = meta
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data

put("safetensors", "f32_1x2.safetensors", st([("emb", "F32", [1, 2], struct.pack("<2f", 1, 2))]))
put("safetensors", "mixed.safetensors", st([("a", "BF16", [2], b"\x80\x3f\x00\x40"),
                                            ("b", "F16", [1, 1], struct.pack("<e", 1.5)),
                                            ("c", "F64", [1], struct.pack("<d", 2))], {"format": "pt"}))
put("safetensors", "i64.safetensors", st([("ids", "I64", [1], struct.pack("<q", 7))]))

# MNIST IDX: magic 0x0000_08NN, big-endian u32 sizes, u8 data
img = bytes((r * 9 + c * 5) % 256 for r in range(28) for c in range(28))
put("idx", "two-images-idx3-ubyte", struct.pack(">IIII", 0x803, 2, 28, 28) + img + img[::-1])
put("idx", "one-images-idx3-ubyte.gz", gzip.compress(struct.pack(">IIII", 0x803, 1, 28, 28) + img, mtime=0))
put("idx", "labels-idx1-ubyte", struct.pack(">II", 0x801, 3) + b"\x01\x07\x09")
put("idx", "small-images-idx3-ubyte", struct.pack(">IIII", 0x803, 1, 2, 2) + b"\x00\x10\x20\x30")

# PNG: hand-assembled (filter 0 rows, one IDAT)
def png(w, h, color_type, bit_depth, rows, extra=b""):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
            + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

put("png", "grey_28.png", png(28, 28, 0, 8, [bytes((r * 9 + c) % 256 for c in range(28)) for r in range(28)]))
put("png", "rgba_4.png", png(4, 4, 6, 8, [bytes([r * 60, c * 60, 100, 255 - r * 30] * 1)[:4] * 4 for r in range(4) for c in [0]]))
put("png", "rgb_2x3.png", png(2, 3, 2, 8, [bytes([10, 20, 30, 200, 100, 0]) for _ in range(3)]))
put("png", "grey16_2.png", png(2, 2, 0, 16, [b"\x00\x00\xff\xff", b"\x80\x00\x40\x00"]))

# tokenizer.json: the released-layout DNA BPE of src/tokenizer/tests.rs, and two variants
specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
          "normalized": False, "special": True} for i, t in enumerate(specials)]
def step(kind, id_, type_id):
    return {kind: {"id": id_, "type_id": type_id}}
tok = {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
    "normalizer": None, "pre_tokenizer": {"type": "Whitespace"}, "decoder": None,
    "post_processor": {"type": "TemplateProcessing",
        "single": [step("SpecialToken", "[CLS]", 0), step("Sequence", "A", 0), step("SpecialToken", "[SEP]", 0)],
        "pair": [step("SpecialToken", "[CLS]", 0), step("Sequence", "A", 0), step("SpecialToken", "[SEP]", 0),
                 step("Sequence", "B", 1), step("SpecialToken", "[SEP]", 1)],
        "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
                           "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}},
    "model": {"type": "BPE", "dropout": None, "unk_token": "[UNK]", "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
              "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "[MASK]": 4,
                        "A": 5, "C": 6, "G": 7, "T": 8, "TA": 9, "TATA": 10},
              "merges": ["T A", "TA TA"]},
}
put("tokenizer_json", "released_layout.json", json.dumps(tok))
tok2 = json.loads(json.dumps(tok))
tok2["pre_tokenizer"] = None
tok2["decoder"] = {"type": "Fuse"}
tok2["model"]["merges"] = [["T", "A"], ["TA", "TA"]]
put("tokenizer_json", "pair_merges_fuse.json", json.dumps(tok2))
tok3 = json.loads(json.dumps(tok))
tok3["model"]["continuing_subword_prefix"] = "##"
put("tokenizer_json", "subword_prefix.json", json.dumps(tok3))
