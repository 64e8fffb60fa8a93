"""The Muon + AdamW optimizer (trainer/model/optim.py)."""

import torch

from trainer.model.optim import MuonAdamW, gpt2_param_groups, orthogonalize


def test_orthogonalize_pushes_singular_values_towards_one():
    torch.manual_seed(0)
    for shape in [(64, 192), (256, 64)]:  # wide and tall; condition numbers 14 and 118
        matrix = torch.randn(*shape) @ torch.diag(torch.logspace(-1, 1, shape[1]))  # spread 100x
        singular = torch.linalg.svdvals(orthogonalize(matrix))
        # Muon's quintic iteration trades exactness for speed: values land in about [0.7, 1.2]
        assert singular.min() > 0.5 and singular.max() < 1.3, (shape, singular.min(), singular.max())
        assert orthogonalize(matrix).shape == matrix.shape


def test_adamw_groups_match_torch_adamw():
    torch.manual_seed(0)
    ours = torch.nn.Linear(5, 3)
    theirs = torch.nn.Linear(5, 3)
    theirs.load_state_dict(ours.state_dict())
    settings = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    optimizers = [MuonAdamW([{"params": ours.parameters(), "use_muon": False, **settings}]),
                  torch.optim.AdamW(theirs.parameters(), **settings)]
    for step in range(5):
        x = torch.randn(7, 5)
        for model, optimizer in zip([ours, theirs], optimizers):
            optimizer.zero_grad()
            model(x).pow(2).sum().backward()
            optimizer.step()
    for mine, reference in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-6)


def test_gpt2_groups_and_a_loss_that_falls():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=16, n_embd=32, n_layer=2, n_head=2))
    groups = gpt2_param_groups(model, lr=3e-3, muon_lr=0.02, weight_decay=0.1)
    muon, embeddings, vectors = groups
    assert muon["use_muon"] and all(p.ndim == 2 for p in muon["params"])
    assert len(muon["params"]) == 2 * 4  # c_attn, attn c_proj, c_fc, mlp c_proj per block
    assert {p.shape for p in embeddings["params"]} == {torch.Size([50, 32]), torch.Size([16, 32])}
    assert vectors["weight_decay"] == 0.0 and all(p.ndim == 1 for p in vectors["params"])
    counted = sum(p.numel() for g in groups for p in g["params"])
    assert counted == sum(p.numel() for p in model.parameters())  # every parameter, once (head tied)

    optimizer = MuonAdamW(groups)
    batch = torch.arange(16).repeat(4, 1) % 7  # a repeating pattern, quick to learn
    losses = []
    for _ in range(30):
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]

    # state_dict round trip (what Trainer's checkpoints and --resume rely on)
    restored = MuonAdamW(gpt2_param_groups(model, lr=3e-3, muon_lr=0.02, weight_decay=0.1))
    restored.load_state_dict(optimizer.state_dict())
    first = muon["params"][0]
    torch.testing.assert_close(restored.state[first]["momentum_buffer"], optimizer.state[first]["momentum_buffer"])
