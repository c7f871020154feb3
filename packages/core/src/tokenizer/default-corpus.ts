/**
 * Training text for Trine's embedded default tokenizer. Written for this repository (no outside text), in plain
 * English with everyday punctuation, numbers, contractions and line breaks, so the merges it yields cover common
 * words and the shapes the LLaMA-3 pre-tokenizer produces.
 */
export const DEFAULT_TOKENIZER_CORPUS = `Trine is a small engine that serves language models whose weights are ternary. Every weight in a projection is minus one, zero or plus one, and one scale per tensor turns those codes back into real numbers. Because the weights are so simple, the heavy work of a matrix product becomes a sum of additions and subtractions, and the activations can be stored as eight-bit integers.

The model reads a prompt one token at a time. A token is a short piece of text: a word, part of a word, a space followed by a word, a number, or a mark of punctuation. The tokenizer cuts the text into pieces, then joins the most common pairs of bytes into larger units, following a list of merges that was learned from sample text. When the model answers, the same table turns its tokens back into bytes, and the bytes back into letters.

Here is how a request travels through the system. A client sends a prompt to the gateway. The gateway checks the key, counts the tokens, and places the job on a queue. A worker picks up the job, loads the model if it is not loaded yet, and starts to generate. Each new token is sent back as soon as it is ready, so the person waiting can read the answer while it is still being written. When the model emits its end token, or when the limit on new tokens is reached, the worker stops and reports how long each step took.

We wanted the engine to run in many places. On a server it uses the vector units of the processor. In a browser it can use WebAssembly, and where the graphics card is available it can use WebGPU. Each of these backends computes the same operations, and a shared test suite compares every one of them with a plain reference written for clarity rather than speed. If a backend is missing a feature, it says so, and the engine picks another one.

It's worth saying what the engine doesn't do. It doesn't train models, and it won't change the weights it was given. It can't make a random model clever: the tiny models in the test folder were built from random numbers, so their answers are nonsense, and that's fine, because the tests only ask whether two engines agree.

A short walk after lunch
The morning had been grey, but by one o'clock the clouds had thinned and the light came down in long bright bands over the fields. We took the path along the river, past the old mill and the row of willow trees, and then up the hill toward the water tower. The grass was still wet, and our boots were dark with it before we had gone half a mile. At the top we stopped to look back. The town was small from there: a church, a square, three streets of red roofs, and the railway line running straight to the east.

My friend said that she had lived there for twelve years and had never once climbed the hill. I asked her why. She laughed and said that there had always been something else to do, and that the hill would still be there tomorrow. Then she said that maybe that was the reason to climb it today.

How to make a pot of tea
First, fill the kettle with fresh cold water and bring it to the boil. While you wait, warm the pot by pouring in a little hot water from the tap, swirling it around, and tipping it out. Put one spoon of leaves in the pot for each person, and one more for the pot. When the water boils, pour it over the leaves at once, put the lid on, and cover the pot with a cloth. Let it stand for four or five minutes. Stir once, pour through a strainer, and add milk or lemon if you like. Don't leave the leaves in the water for too long, or the tea will turn bitter.

Numbers and measures
The recipe calls for 250 grams of flour, 125 grams of butter, 2 eggs and 60 millilitres of milk. Bake it at 180 degrees for 35 to 40 minutes. The train leaves at 7:45 and arrives at 10:20, a journey of 2 hours and 35 minutes. In 2024 the town had 8,500 people; in 1950 it had fewer than 3,000. The bridge is 42.5 metres long and 6 metres wide. One kilometre is 1000 metres, and one mile is about 1.609 kilometres. Seven times eight is fifty-six, and 12 + 30 = 42.

Questions people ask
What is the capital of France? Paris is the capital, and it sits on the river Seine. How many days are there in a leap year? There are 366. Why is the sky blue? Sunlight is scattered by the air, and blue light is scattered more than red light, so the sky looks blue when we look away from the sun. Who wrote this text? The people who built Trine wrote it, so that the default model would have a tokenizer of its own.

You are a helpful assistant. Answer the question clearly and briefly. If you do not know the answer, say that you do not know. Use simple words, and explain any term that a reader might not have met before.

Letters from a workshop
Dear Sam, thank you for the tools you sent last week. The saw is sharp, and the plane works well on the oak boards. I have started the table we talked about. The legs are cut and the top is glued, but I still have to fit the drawer. I'll send you a picture when it is finished. I hope the weather is kind to you and that the garden is growing. With best wishes, Robin.

Dear Robin, I'm glad the tools arrived safely. You should rub a little wax on the sole of the plane; it makes the work easier. The garden is doing well this year. We have beans, peas, onions, potatoes and more tomatoes than we can eat. The apple tree is heavy with fruit, and we'll have to pick it soon. Come and visit in the autumn if you can. All the best, Sam.

Notes on writing clear code
Give each thing one name and use that name everywhere. Keep functions short enough to read at a glance. Check the input at the edge of the system, and give a clear error that names the field that was wrong. Write a test for every bug you fix, so that it cannot come back without someone noticing. Prefer plain data over clever tricks, and say in a comment why a choice was made, not what the next line does. When two parts must agree, let one of them own the fact, and let the other read it.

The weather today will be dry in the north with sunny spells, while the south will see some rain in the afternoon. Winds will be light from the west. Temperatures will reach 18 degrees in the cities and 15 degrees on the coast. Tonight will be clear and cool, with a chance of mist in the valleys. Tomorrow should be warmer, and the weekend looks settled and bright.

Once there was a fox who lived at the edge of a forest. Every night he came down to the farm to look for food, and every night the dog barked and chased him away. One evening the fox found the gate open and the dog asleep. He crept into the yard, past the barn and the well, and found a basket of eggs by the kitchen door. He was about to take one when the farmer's daughter opened the door. She looked at the fox, and the fox looked at her. Then she took an egg from the basket, set it on the step, and closed the door again. From that night on, there was always one egg on the step, and the fox never took more than that.
`;
